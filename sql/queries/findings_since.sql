-- findings history for `inferops findings`: optional type filter, worst first within each date
select assessment_date, finding_id, type, severity, confidence, status, suppressed, cluster, namespace,
       workload_kind, workload, model, gpu_model, owner, title, monthly_waste_usd, monthly_at_risk_usd,
       first_seen, days_open
from findings_history
where assessment_date >= $since
  and ($type is null or type = $type)
order by assessment_date desc, monthly_waste_usd + monthly_at_risk_usd desc, finding_id;
