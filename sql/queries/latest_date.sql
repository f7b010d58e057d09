-- the most recent assessment date that has findings
select max(assessment_date) as assessment_date from findings;
