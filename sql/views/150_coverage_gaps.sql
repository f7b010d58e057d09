-- what a night could not read well, per cluster: absent (not installed), sparse, denied (RBAC) or error parts
create or replace view coverage_gaps as
select
    assessment_date,
    cluster,
    source,
    part,
    status,
    items,
    detail,
    status in ('denied', 'error') as degraded
from coverage
where status <> 'ok';
