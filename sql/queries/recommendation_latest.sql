-- the newest row of one recommendation id (the night that last raised it): what an approval acts on
select *
from recommendations
where recommendation_id = $recommendation_id
order by assessment_date desc
limit 1;
