-- the latest open findings before a date: source of first_seen and of resolved status
with latest as (
    select max(assessment_date) as assessment_date
    from findings
    where assessment_date < $assessment_date
)
select f.finding_id, f.first_seen, f.status, f.type, f.severity, f.confidence, f.cluster, f.namespace,
       f.workload_kind, f.workload, f.model, f.gpu_model, f.owner, f.title
from findings as f
join latest using (assessment_date)
where f.status <> 'resolved';
