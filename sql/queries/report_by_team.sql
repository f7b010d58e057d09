-- the report date's open money by team (owner) and namespace
with by_team as (
    select
        owner,
        namespace,
        sum(open_findings)::bigint as open_findings,
        sum(monthly_waste_usd) as monthly_waste_usd,
        sum(monthly_at_risk_usd) as monthly_at_risk_usd
    from waste_trend
    where assessment_date = $assessment_date and open_findings > 0
    group by owner, namespace
)
select *
from by_team
order by monthly_waste_usd + monthly_at_risk_usd desc, owner, namespace;
