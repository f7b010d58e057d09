-- detectors and history (issue 6): suppressed findings (inferops.io/ignore) stay in the history, out of money totals
alter table findings add column if not exists suppressed boolean default false;
alter table findings add column if not exists suppressed_by varchar default '';
