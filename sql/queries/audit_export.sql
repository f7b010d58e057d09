-- the audit chain in order with its hashes, for export as JSON lines
select seq, ts, actor, event, subject, payload, run_id, prev_hash, hash
from audit_log
where seq >= $since_seq
order by seq;
