-- the report's worst workloads, when the report date is the latest night (top_offenders ranks that night only)
select *
from top_offenders
where assessment_date = $assessment_date
order by rank, cluster, namespace, workload
limit 10;
