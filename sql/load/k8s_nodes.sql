-- replace one assessment date of k8s_nodes with the frame registered as incoming
delete from k8s_nodes where assessment_date = $assessment_date;
insert into k8s_nodes by name select * from incoming;
