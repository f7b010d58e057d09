-- the open findings of each cluster's latest earlier assessment: source of first_seen and of resolved status.
-- Per cluster, so a night on which a cluster could not be read (no rows for it) does not hide its older open
-- findings; and a cluster that cannot be read on the date itself (a coverage error, or its metrics denied)
-- resolves nothing: absent data is not a fix.
with latest as (
    select cluster, max(assessment_date) as assessment_date
    from findings
    where assessment_date < $assessment_date
    group by cluster
),
unreadable as (
    -- an error anywhere, or metrics refused (401/403 on Prometheus answers every signal with "denied")
    select distinct cluster
    from coverage
    where assessment_date = $assessment_date
      and (status = 'error' or (source = 'prometheus' and status = 'denied'))
)
select f.finding_id, f.first_seen, f.status, f.type, f.severity, f.confidence, f.cluster, f.namespace,
       f.workload_kind, f.workload, f.model, f.gpu_model, f.owner, f.title
from findings as f
join latest using (cluster, assessment_date)
where f.status <> 'resolved'
  and f.cluster not in (select cluster from unreadable);
