-- the whole audit chain in order, for verification
select seq, ts, actor, event, subject, payload, run_id, prev_hash, hash from audit_log order by seq;
