-- record that a schema version was applied
insert into schema_version (version) values ($version) on conflict do nothing;
