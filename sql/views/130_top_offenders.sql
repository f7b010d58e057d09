-- workloads (and nodes) ranked by open monthly waste + risk on the latest night, with the waste accrued since
-- they were first flagged (each night counts as one day at that night's monthly rate, so skipped nights add nothing)
create or replace view top_offenders as
with latest as (
    select max(assessment_date) as assessment_date
    from findings
),
counted as (
    select *
    from findings_history
    where status <> 'resolved' and not suppressed
),
open_now as (
    select c.*
    from counted as c
    join latest using (assessment_date)
),
accrued as (
    select
        cluster,
        namespace,
        workload_kind,
        workload,
        sum(monthly_waste_usd) * 12 / 365 as accrued_waste_usd,
        min(first_seen) as first_flagged
    from counted
    group by cluster, namespace, workload_kind, workload
),
per_workload as (
    select
        assessment_date,
        cluster,
        namespace,
        workload_kind,
        workload,
        min(owner) as owner,
        string_agg(distinct model, ', ') filter (where model <> '') as models,
        string_agg(distinct type, ', ' order by type) as types,
        arg_min(
            severity,
            case severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 when 'low' then 3 else 4 end
        ) as worst_severity,
        count(*) as open_findings,
        sum(monthly_waste_usd) as monthly_waste_usd,
        sum(monthly_at_risk_usd) as monthly_at_risk_usd
    from open_now
    group by assessment_date, cluster, namespace, workload_kind, workload
)
select
    rank() over (order by p.monthly_waste_usd + p.monthly_at_risk_usd desc) as rank,
    p.*,
    a.accrued_waste_usd,
    a.first_flagged,
    date_diff('day', a.first_flagged, p.assessment_date) as days_flagged
from per_workload as p
join accrued as a using (cluster, namespace, workload_kind, workload)
order by rank, cluster, namespace, workload;
