-- replace one assessment date of recommendations with the frame registered as incoming, keeping decisions:
-- a row decided on this date (re-run of the night) survives whole — status, patch and inverse as decided; a
-- recommendation applied on an earlier night and proposed again keeps the patch and inverse it was applied with
-- (a rollback must restore what was there before it), and a rejection stands while the proposal is unchanged
create or replace temporary table decided as
select *
from recommendations
where assessment_date = $assessment_date and status <> 'pending';
create or replace temporary table carried as
with latest as (
    select *
    from recommendations
    where assessment_date < $assessment_date and status in ('applied', 'rejected')
    qualify row_number() over (partition by recommendation_id order by assessment_date desc) = 1
)
select l.* replace (cast($assessment_date as date) as assessment_date)
from latest as l
join incoming as i using (recommendation_id)
where (l.status = 'applied' or cast(l.patch as varchar) = cast(i.patch as varchar))
  and l.recommendation_id not in (select recommendation_id from decided);
delete from recommendations where assessment_date = $assessment_date;
insert into recommendations by name
select *
from incoming
where recommendation_id not in (select recommendation_id from decided)
  and recommendation_id not in (select recommendation_id from carried);
insert into recommendations by name select * from carried;
insert into recommendations by name select * from decided;
drop table carried;
drop table decided;
