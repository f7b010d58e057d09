-- findings resolved on the report date, with days to resolve and the monthly dollars the fix stopped
select *
from resolved_findings
where resolved_on = $assessment_date
order by monthly_waste_usd + monthly_at_risk_usd desc, finding_id;
