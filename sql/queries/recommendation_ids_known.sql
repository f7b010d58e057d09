-- every recommendation id already stored up to a night (read before that night is replaced, so a re-run of the
-- same night announces nothing new)
select distinct recommendation_id
from recommendations
where assessment_date <= $assessment_date;
