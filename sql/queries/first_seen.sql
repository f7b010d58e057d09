-- first date each finding id was ever seen before a date (survives gaps in the nightly runs)
select finding_id, min(first_seen) as first_seen
from findings
where assessment_date < $assessment_date and status <> 'resolved'
group by finding_id;
