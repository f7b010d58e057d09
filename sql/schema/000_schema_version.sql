-- one row per applied schema version; the warehouse refuses to run against a newer schema than it knows
create table if not exists schema_version (
    version integer primary key,
    applied_at timestamp not null default current_timestamp
);
