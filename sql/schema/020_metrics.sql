-- long-format window statistics, one row per series identity × signal × stat (DESIGN §2 ingest)
create table if not exists metrics (
    assessment_date date not null,
    cluster varchar not null,
    source varchar not null,
    signal varchar not null,
    stat varchar not null,
    namespace varchar not null,
    pod varchar not null,
    container varchar not null,
    node varchar not null,
    gpu_uuid varchar not null,
    model varchar not null,
    value double not null,
    samples bigint not null
);
