-- every findings row of one assessment date
select * from findings where assessment_date = $assessment_date;
