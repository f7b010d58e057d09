-- replace one assessment date of gpu_catalog with the frame registered as incoming
delete from gpu_catalog where assessment_date = $assessment_date;
insert into gpu_catalog by name select * from incoming;
