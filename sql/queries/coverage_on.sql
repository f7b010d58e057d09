-- every coverage row of one assessment date
select * from coverage where assessment_date = $assessment_date order by cluster, source, part;
