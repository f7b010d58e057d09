-- the price rows in force on each assessment date (bundled catalog + overrides), with their sources
create table if not exists price_catalog (
    assessment_date date not null,
    cloud varchar not null,
    region varchar not null,
    instance_type varchar not null,
    gpu_model varchar not null,
    gpu_count double not null,
    gpu_memory_gib double,
    vcpus double,
    memory_gib double,
    price_ondemand_usd_hr double not null,
    price_spot_usd_hr double,
    price_commit_1yr_usd_hr double,
    price_commit_3yr_usd_hr double,
    source varchar not null,
    snapshot_date varchar not null
);
