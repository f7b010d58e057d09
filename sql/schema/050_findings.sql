-- one row per finding per assessment date (DESIGN §4 contract)
create table if not exists findings (
    assessment_date date not null,
    finding_id varchar not null,
    type varchar not null,
    severity varchar not null,
    confidence varchar not null,
    cluster varchar not null,
    namespace varchar not null,
    workload_kind varchar not null,
    workload varchar not null,
    model varchar not null,
    gpu_model varchar not null,
    owner varchar not null,
    title varchar not null,
    explanation varchar not null,
    evidence json not null,
    monthly_waste_usd double not null,
    monthly_at_risk_usd double not null,
    first_seen date not null,
    status varchar not null,
    suppressed boolean default false, -- exempted by inferops.io/ignore: dollars moved into evidence
    suppressed_by varchar default '', -- the annotation that exempted it
    primary key (assessment_date, finding_id)
);
