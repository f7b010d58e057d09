-- every metric row of one assessment date
select cluster, source, signal, stat, namespace, pod, container, node, gpu_uuid, model, value, samples
from metrics
where assessment_date = $assessment_date;
