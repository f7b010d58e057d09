-- every workloads row of one assessment date
select * from workloads where assessment_date = $assessment_date;
