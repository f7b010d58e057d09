-- replace one assessment date's coverage rows of one source (kubernetes, prometheus) and the given parts with incoming
delete from coverage
where assessment_date = $assessment_date and source = $source and list_contains($parts, part);
insert into coverage by name select * from incoming;
