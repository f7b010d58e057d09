-- one recommendation per actionable finding: the patch, its inverse and the expected outcome
create table if not exists recommendations (
    assessment_date date not null,
    recommendation_id varchar not null,
    finding_id varchar not null,
    action varchar not null,
    cluster varchar not null,
    namespace varchar not null,
    target_kind varchar not null,
    target_name varchar not null,
    patch json not null,
    inverse_patch json not null,
    rationale varchar not null,
    expected_monthly_savings_usd double not null,
    expected_risk_change varchar not null,
    status varchar not null,
    primary key (assessment_date, recommendation_id)
);
