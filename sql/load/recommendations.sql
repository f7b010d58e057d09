-- replace one assessment date of recommendations with the frame registered as incoming; a decision already taken
-- on that date (approved, applied, rejected, ...) survives a re-run of the night instead of reverting to pending
create or replace temporary table decided as
select recommendation_id, status
from recommendations
where assessment_date = $assessment_date and status <> 'pending';
delete from recommendations where assessment_date = $assessment_date;
insert into recommendations by name
select i.* replace (coalesce(d.status, i.status) as status)
from incoming as i
left join decided as d using (recommendation_id);
drop table decided;
