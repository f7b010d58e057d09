-- remediation (issue 7): the target's observed version/spec hash (apply refuses a changed target), scale-to-zero
-- flag and the risk a recommendation removes
alter table recommendations add column if not exists target_resource_version varchar default '';
alter table recommendations add column if not exists target_spec_hash varchar default '';
alter table recommendations add column if not exists scale_to_zero boolean default false;
alter table recommendations add column if not exists expected_risk_removed_usd double default 0;
