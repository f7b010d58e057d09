-- the price rows in force on each assessment date (bundled or live-refreshed catalog, discount, overrides) with their sources
-- origin: bundled, refresh:<cloud> or override. region_fallback_from is no longer written (quotes carry their basis)
create table if not exists price_catalog (
    assessment_date date not null,
    cloud varchar not null,
    region varchar not null,
    instance_type varchar not null,
    gpu_model varchar not null,
    gpu_count double not null,
    gpu_memory_gib double,
    gpu_memory_total_gib double,
    vcpus double,
    memory_gib double,
    ondemand_usd_hr double not null,
    spot_usd_hr double,
    commit_1yr_usd_hr double,
    commit_3yr_usd_hr double,
    per_gpu_ondemand_usd_hr double,
    source varchar not null,
    snapshot_date date,
    notes varchar,
    override varchar,
    discount_pct double,
    region_fallback_from varchar,
    origin varchar
);
