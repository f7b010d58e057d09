-- the report date's findings (open and just resolved) with explanations, most dollars first
select *
from findings_history
where assessment_date = $assessment_date
order by monthly_waste_usd + monthly_at_risk_usd desc, finding_id;
