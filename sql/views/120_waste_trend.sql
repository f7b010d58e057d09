-- nightly totals by type / cluster / namespace / owner / model: sum over any subset of these columns to roll up.
-- Money counts open, unsuppressed findings only; resolved rows show up as resolved_findings on the night they closed.
create or replace view waste_trend as
select
    assessment_date,
    type,
    cluster,
    namespace,
    owner,
    model,
    count(*) filter (where status <> 'resolved') as open_findings,
    count(*) filter (where status = 'new') as new_findings,
    count(*) filter (where status = 'resolved') as resolved_findings,
    count(*) filter (where status <> 'resolved' and suppressed) as suppressed_findings,
    coalesce(sum(monthly_waste_usd) filter (where status <> 'resolved' and not suppressed), 0) as monthly_waste_usd,
    coalesce(sum(monthly_at_risk_usd) filter (where status <> 'resolved' and not suppressed), 0) as monthly_at_risk_usd
from findings_history
group by assessment_date, type, cluster, namespace, owner, model;
