-- the raw objects a recommendation can patch (deployments, statefulsets) on one assessment date
select cluster, kind, namespace, name, body
from raw_k8s_objects
where assessment_date = $assessment_date and kind in ('deployments', 'statefulsets');
