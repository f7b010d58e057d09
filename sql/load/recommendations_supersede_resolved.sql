-- mark earlier nights' pending recommendations superseded when their finding is resolved on this date
with resolved as (
    select finding_id
    from findings
    where assessment_date = $assessment_date and status = 'resolved'
)
update recommendations
set status = 'superseded'
where assessment_date < $assessment_date
  and status = 'pending'
  and finding_id in (select finding_id from resolved);
