-- every gpu_nodes row of one assessment date
select * from gpu_nodes where assessment_date = $assessment_date;
