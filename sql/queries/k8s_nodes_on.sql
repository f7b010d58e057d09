-- every k8s_nodes row of one assessment date
select * from k8s_nodes where assessment_date = $assessment_date;
