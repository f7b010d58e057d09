-- pending recommendations of earlier nights whose finding is resolved on this date: they are superseded
with resolved as (
    select finding_id
    from findings
    where assessment_date = $assessment_date and status = 'resolved'
)
select r.assessment_date, r.recommendation_id, r.finding_id
from recommendations as r
join resolved using (finding_id)
where r.assessment_date < $assessment_date and r.status = 'pending';
