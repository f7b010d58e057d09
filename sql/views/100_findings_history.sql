-- every finding row of every night, with how long it has been open; `suppressed` rows count toward no money total
create or replace view findings_history as
select
    f.assessment_date,
    f.finding_id,
    f.type,
    f.severity,
    f.confidence,
    f.status,
    coalesce(f.suppressed, false) as suppressed,
    f.cluster,
    f.namespace,
    f.workload_kind,
    f.workload,
    f.owner,
    f.model,
    f.gpu_model,
    f.title,
    f.explanation,
    f.monthly_waste_usd,
    f.monthly_at_risk_usd,
    f.first_seen,
    date_diff('day', f.first_seen, f.assessment_date) as days_open
from findings as f;
