-- the report's trend: one fleet_daily row per night from $since up to the report date
select *
from fleet_daily
where assessment_date between $since and $assessment_date
order by assessment_date;
