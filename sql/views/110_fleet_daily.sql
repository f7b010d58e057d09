-- one row per assessment date: fleet GPU spend, open waste and risk (suppressed excluded), new/resolved counts
create or replace view fleet_daily as
with spend as (
    select
        assessment_date,
        sum(hourly_cost_usd) * 730 as monthly_gpu_spend_usd,
        sum(gpu_capacity) as gpus
    from gpu_nodes
    group by assessment_date
),
tallies as (
    select
        assessment_date,
        coalesce(sum(monthly_waste_usd) filter (where status <> 'resolved' and not suppressed), 0) as monthly_waste_usd,
        coalesce(sum(monthly_at_risk_usd) filter (where status <> 'resolved' and not suppressed), 0)
            as monthly_at_risk_usd,
        count(*) filter (where status <> 'resolved') as open_findings,
        count(*) filter (where status = 'new') as new_findings,
        count(*) filter (where status = 'resolved') as resolved_findings,
        count(*) filter (where status <> 'resolved' and suppressed) as suppressed_findings
    from findings_history
    group by assessment_date
),
dates as (
    select assessment_date from spend
    union
    select assessment_date from tallies
)
select
    d.assessment_date,
    coalesce(s.gpus, 0) as gpus,
    coalesce(s.monthly_gpu_spend_usd, 0) as monthly_gpu_spend_usd,
    coalesce(t.monthly_waste_usd, 0) as monthly_waste_usd,
    coalesce(t.monthly_at_risk_usd, 0) as monthly_at_risk_usd,
    coalesce(t.open_findings, 0) as open_findings,
    coalesce(t.new_findings, 0) as new_findings,
    coalesce(t.resolved_findings, 0) as resolved_findings,
    coalesce(t.suppressed_findings, 0) as suppressed_findings
from dates as d
left join spend as s using (assessment_date)
left join tallies as t using (assessment_date);
