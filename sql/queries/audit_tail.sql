-- the last link of the audit chain
select seq, hash from audit_log order by seq desc limit 1;
