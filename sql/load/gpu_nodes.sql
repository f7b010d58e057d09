-- replace one assessment date of gpu_nodes with the frame registered as incoming
delete from gpu_nodes where assessment_date = $assessment_date;
insert into gpu_nodes by name select * from incoming;
