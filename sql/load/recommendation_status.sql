-- record a decision or outcome on one night's recommendation row
update recommendations
set status = $status
where recommendation_id = $recommendation_id and assessment_date = $assessment_date;
