-- every k8s_workloads row of one assessment date
select * from k8s_workloads where assessment_date = $assessment_date;
