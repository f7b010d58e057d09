-- replace one assessment date of model_catalog with the frame registered as incoming
delete from model_catalog where assessment_date = $assessment_date;
insert into model_catalog by name select * from incoming;
