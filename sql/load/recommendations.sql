-- replace one assessment date of recommendations with the frame registered as incoming
delete from recommendations where assessment_date = $assessment_date;
insert into recommendations by name select * from incoming;
