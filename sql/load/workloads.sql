-- replace one assessment date of workloads with the frame registered as incoming
delete from workloads where assessment_date = $assessment_date;
insert into workloads by name select * from incoming;
