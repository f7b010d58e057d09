-- one row per assessment date: fleet GPU spend, waste and risk, for trend charts
create or replace view fleet_daily as
with spend as (
    select assessment_date, sum(hourly_cost_usd) * 730 as monthly_gpu_spend_usd, sum(gpu_capacity) as gpus
    from gpu_nodes
    group by assessment_date
),
open_findings as (
    select assessment_date,
           sum(monthly_waste_usd) as monthly_waste_usd,
           sum(monthly_at_risk_usd) as monthly_at_risk_usd,
           count(*) as findings
    from findings
    where status <> 'resolved'
    group by assessment_date
)
select s.assessment_date, s.gpus, s.monthly_gpu_spend_usd,
       coalesce(o.monthly_waste_usd, 0) as monthly_waste_usd,
       coalesce(o.monthly_at_risk_usd, 0) as monthly_at_risk_usd,
       coalesce(o.findings, 0) as findings
from spend as s
left join open_findings as o using (assessment_date);
