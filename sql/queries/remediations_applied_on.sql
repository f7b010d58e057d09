-- real (not dry-run) change attempts on one UTC day, from the audit log: the change budget counts every attempt
-- that may have written — an apply, one rolled back because its rollout failed, or one that failed midway — so a
-- flapping change cannot retry past the budget
select count(*) as applied
from audit_log
where event in ('remediation.applied', 'remediation.rolled_back', 'remediation.failed')
  and not coalesce(cast(json_extract(payload, '$.dry_run') as boolean), false)
  and cast(ts as date) = $day;
