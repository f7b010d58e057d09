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
    gpu_vendor varchar default '', -- nvidia | amd
    gpu_count integer default 0, -- physical GPUs (gpu_capacity counts MIG slices / time-slice replicas)
    gpu_source varchar default '', -- label:<key> or instance-type:<type> that named the GPU
    gpu_sharing varchar default 'none', -- none | mig | time-slicing | mps
    gpu_replicas integer default 1, -- devices advertised per physical GPU when time-sliced
    mig_strategy varchar default '', -- single | mixed
    gpu_resources json default '{}', -- allocatable device resources by name
    gpu_allocated integer default 0, -- devices requested by scheduled, non-terminal pods
    cordoned boolean default false,
    taints json default '[]', -- key=value:effect
    capacity_type_source varchar default 'default', -- label that set capacity_type
    primary key (assessment_date, cluster, name)
);
