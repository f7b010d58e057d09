-- `inferops findings --open`: every finding still open at its latest assessment, most dollars first
select finding_id, type, severity, confidence, suppressed, cluster, namespace, workload_kind, workload, model,
       gpu_model, owner, title, monthly_waste_usd, monthly_at_risk_usd, first_seen, last_seen, nights_open
from findings_latest
where is_open
  and first_seen >= $since
  and ($type is null or type = $type)
order by monthly_waste_usd + monthly_at_risk_usd desc, finding_id;
