-- append-only, sha256 hash-chained record of every finding, recommendation, decision and change
create sequence if not exists audit_log_seq start 1;
create table if not exists audit_log (
    seq bigint primary key default nextval('audit_log_seq'),
    ts timestamp not null,
    actor varchar not null,
    event varchar not null,
    subject varchar not null,
    payload json not null,
    run_id varchar not null,
    prev_hash varchar not null,
    hash varchar not null
);
