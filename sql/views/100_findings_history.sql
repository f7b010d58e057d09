-- findings over time with how long each has been open; the view users query with `inferops sql`
create or replace view findings_history as
select
    f.assessment_date,
    f.finding_id,
    f.type,
    f.severity,
    f.status,
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
    f.first_seen,
    date_diff('day', f.first_seen, f.assessment_date) as days_open
from findings as f;
