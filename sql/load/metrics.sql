-- replace one assessment date of metrics with the frame registered as incoming
delete from metrics where assessment_date = $assessment_date;
insert into metrics by name select * from incoming;
