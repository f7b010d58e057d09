-- accelerator specs in force on each assessment date
create table if not exists gpu_catalog (
    assessment_date date not null,
    gpu_model varchar not null,
    spec_key varchar not null,
    vendor varchar,
    memory_gib double not null,
    memory_bandwidth_gbs double,
    bf16_dense_tflops double,
    fp8_dense_tflops double,
    tdp_w double,
    nvlink boolean,
    mig_capable boolean not null,
    mig_profiles varchar,
    architecture varchar,
    source varchar not null
);
