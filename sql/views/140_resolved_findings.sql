-- one row per resolution: what was fixed, when, after how many days, and the monthly dollars it stopped
-- (taken from the finding's last open night before it resolved)
create or replace view resolved_findings as
with resolutions as (
    select finding_id, assessment_date as resolved_on, first_seen
    from findings
    where status = 'resolved'
),
last_open as (
    select
        r.finding_id,
        r.resolved_on,
        r.first_seen,
        f.assessment_date as last_seen,
        f.type,
        f.severity,
        f.confidence,
        coalesce(f.suppressed, false) as suppressed,
        f.cluster,
        f.namespace,
        f.workload_kind,
        f.workload,
        f.owner,
        f.model,
        f.gpu_model,
        f.title,
        f.monthly_waste_usd,
        f.monthly_at_risk_usd,
        row_number() over (partition by r.finding_id, r.resolved_on order by f.assessment_date desc) as recency
    from resolutions as r
    join findings as f
        on f.finding_id = r.finding_id and f.assessment_date < r.resolved_on and f.status <> 'resolved'
)
select
    resolved_on,
    finding_id,
    type,
    severity,
    confidence,
    suppressed,
    cluster,
    namespace,
    workload_kind,
    workload,
    owner,
    model,
    gpu_model,
    title,
    first_seen,
    last_seen,
    date_diff('day', first_seen, resolved_on) as days_to_resolve,
    monthly_waste_usd,
    monthly_at_risk_usd
from last_open
where recency = 1;
