-- replace one assessment date of k8s_workloads with the frame registered as incoming
delete from k8s_workloads where assessment_date = $assessment_date;
insert into k8s_workloads by name select * from incoming;
