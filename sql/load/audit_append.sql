-- append one link to the audit chain
insert into audit_log (ts, actor, event, subject, payload, run_id, prev_hash, hash)
values ($ts, $actor, $event, $subject, $payload, $run_id, $prev_hash, $hash);
