-- every recommendations row of one assessment date
select * from recommendations where assessment_date = $assessment_date;
