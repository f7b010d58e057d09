-- the price catalog in force on one assessment date
select * exclude (assessment_date) from price_catalog where assessment_date = $assessment_date;
