-- changes applied to clusters on one UTC day (the change budget counts them from the audit log)
select count(*) as applied
from audit_log
where event = 'remediation.applied' and cast(ts as date) = $day;
