-- what each run could read per cluster: one row per (source, part), e.g. kubernetes/deployments, prometheus/kv_cache_usage
create table if not exists coverage (
    assessment_date date not null,
    cluster varchar not null,
    source varchar not null,
    part varchar not null,
    status varchar not null,
    items bigint not null,
    detail varchar not null,
    duration_s double not null
);
