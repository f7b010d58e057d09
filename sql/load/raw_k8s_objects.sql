-- replace one assessment date of the given object kinds with the frame registered as incoming
delete from raw_k8s_objects where assessment_date = $assessment_date and list_contains($kinds, kind);
insert into raw_k8s_objects by name select * from incoming;
