-- one row per node per assessment date: GPU facts parsed from labels, capacity and conditions
create table if not exists k8s_nodes (
    assessment_date date not null,
    cluster varchar not null,
    name varchar not null,
    cloud varchar not null,
    region varchar not null,
    zone varchar not null,
    instance_type varchar not null,
    capacity_type varchar not null,
    gpu_model varchar not null,
    gpu_memory_gib double not null,
    gpu_capacity integer not null,
    gpu_allocatable integer not null,
    ready boolean not null,
    schedulable boolean not null,
    nodepool varchar not null,
    primary key (assessment_date, cluster, name)
);
