-- asset-check tallies for one night of findings: open rows without evidence, negative dollars, duplicated ids
with night as (
    select *
    from findings
    where assessment_date = $assessment_date
),
open_rows as (
    select *
    from night
    where status <> 'resolved'
)
select
    (select count(*) from night) as rows,
    (
        select count(*)
        from open_rows
        where evidence is null or json_type(evidence) <> 'OBJECT' or evidence::varchar in ('{}', 'null')
    ) as without_evidence,
    (select count(*) from night where monthly_waste_usd < 0 or monthly_at_risk_usd < 0) as negative_money,
    (select count(*) - count(distinct finding_id) from night) as duplicate_ids,
    (
        select coalesce(list(finding_id order by finding_id), [])
        from (select finding_id from open_rows
              where evidence is null or json_type(evidence) <> 'OBJECT' or evidence::varchar in ('{}', 'null')
              limit 5)
    ) as without_evidence_sample,
    (
        select coalesce(list(finding_id order by finding_id), [])
        from (select finding_id from night where monthly_waste_usd < 0 or monthly_at_risk_usd < 0 limit 5)
    ) as negative_money_sample;
