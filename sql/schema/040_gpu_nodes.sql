-- model: GPU nodes with allocation from scheduled pods and the price that applies to them
create table if not exists gpu_nodes (
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
    gpu_allocated integer not null,
    gpu_free integer not null,
    ready boolean not null,
    schedulable boolean not null,
    nodepool varchar not null,
    hourly_cost_usd double not null,
    gpu_hour_usd double not null,
    price_basis varchar not null,
    autoscaler varchar default '', -- karpenter | '' (unknown)
    primary key (assessment_date, cluster, name)
);
