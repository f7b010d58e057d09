-- one row per GPU-serving pod resolved to its controlling workload, with parsed engine settings
create table if not exists k8s_workloads (
    assessment_date date not null,
    cluster varchar not null,
    namespace varchar not null,
    name varchar not null,
    node varchar not null,
    phase varchar not null,
    workload_kind varchar not null,
    workload varchar not null,
    owner varchar not null,
    runtime varchar not null,
    model varchar not null,
    image varchar not null,
    container varchar not null,
    gpus integer not null,
    tensor_parallel integer not null,
    gpu_memory_utilization double,
    max_model_len bigint,
    kv_cache_dtype varchar not null,
    quantization varchar not null,
    cpu_request double not null,
    cpu_limit double,
    memory_request_bytes double not null,
    memory_limit_bytes double,
    restarts integer not null,
    scheduled boolean not null,
    ready boolean not null,
    engine_args json not null,
    desired_replicas integer not null,
    has_autoscaler boolean not null,
    gpu_hint varchar not null,
    pipeline_parallel integer default 1,
    data_parallel integer default 1,
    max_num_seqs bigint,
    max_num_batched_tokens bigint,
    dtype varchar default '',
    prefix_caching boolean, -- null: engine default
    served_model_name varchar default '',
    placement json default '{}', -- nodeSelector / node affinity, gpu_keys = the GPU-tier keys
    engine_facts json default '{}', -- {knob: {"value", "source"}}
    env_names json default '[]', -- names only: env values are never stored
    gpu_resource varchar default '',
    platform varchar default '', -- kserve | llm-d | vllm-production-stack
    role varchar default '', -- prefill | decode | leader | worker
    pods_per_replica integer default 1, -- LeaderWorkerSet group size
    ready_replicas integer, -- owner status.readyReplicas
    pending_since varchar default '', -- PodScheduled=False lastTransitionTime, else creationTimestamp (ISO 8601)
    pending_reason varchar default '', -- scheduler reason, e.g. Unschedulable
    pending_message varchar default '', -- scheduler message, e.g. 0/12 nodes are available: ...
    ignore json default '[]', -- finding types exempted by the inferops.io/ignore annotation
    primary key (assessment_date, cluster, namespace, name)
);
