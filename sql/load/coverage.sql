-- replace one assessment date's coverage rows of the given sources (kubernetes, prometheus) with incoming
delete from coverage where assessment_date = $assessment_date and list_contains($sources, source);
insert into coverage by name select * from incoming;
