-- replace one assessment date of price_catalog with the frame registered as incoming
delete from price_catalog where assessment_date = $assessment_date;
insert into price_catalog by name select * from incoming;
