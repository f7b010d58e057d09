-- the current state of every finding ever raised: its newest row, described by its last open row.
-- A resolved finding keeps its last open description but carries no dollars (they are in resolved_findings).
create or replace view findings_latest as
with newest as (
    select
        finding_id,
        assessment_date,
        status,
        row_number() over (partition by finding_id order by assessment_date desc) as recency
    from findings
),
open_rows as (
    select
        f.*,
        row_number() over (partition by f.finding_id order by f.assessment_date desc) as recency,
        count(*) over (partition by f.finding_id) as nights_open
    from findings as f
    where f.status <> 'resolved'
)
select
    n.finding_id,
    o.type,
    o.severity,
    o.confidence,
    n.status,
    n.status <> 'resolved' as is_open,
    coalesce(o.suppressed, false) as suppressed,
    o.cluster,
    o.namespace,
    o.workload_kind,
    o.workload,
    o.owner,
    o.model,
    o.gpu_model,
    o.title,
    o.explanation,
    case when n.status = 'resolved' then 0.0 else o.monthly_waste_usd end as monthly_waste_usd,
    case when n.status = 'resolved' then 0.0 else o.monthly_at_risk_usd end as monthly_at_risk_usd,
    o.first_seen,
    o.assessment_date as last_seen,
    n.assessment_date as last_assessed,
    case when n.status = 'resolved' then n.assessment_date end as resolved_on,
    o.nights_open
from newest as n
join open_rows as o on o.finding_id = n.finding_id and o.recency = 1
where n.recency = 1;
