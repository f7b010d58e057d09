-- raw inventory: every object read from the Kubernetes API or snapshot, as kubectl-shaped JSON
create table if not exists raw_k8s_objects (
    assessment_date date not null,
    cluster varchar not null,
    kind varchar not null,
    namespace varchar not null,
    name varchar not null,
    body json not null
);
