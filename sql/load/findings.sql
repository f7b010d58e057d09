-- replace one assessment date of findings with the frame registered as incoming
delete from findings where assessment_date = $assessment_date;
insert into findings by name select * from incoming;
