{#- One row per measure of the identity graph's health: sizes, cluster-size distribution, exclusions and
    the last connected-components run (rounds, limit violations, cut links, seconds). -#}
with

graph as (

    select * from {{ ref('identity_graph') }}

),

records as (

    select * from {{ ref('identity_records') }}

),

clusters as (

    select
        customer_id,
        count(*) as identifiers
    from graph
    group by customer_id

),

excluded as (

    select * from {{ ref('identity_excluded_identifiers') }}

),

last_run as (

    select * from {{ cdp.identity_component_runs() }}
    where run_started_at = (select max(run_started_at) from {{ cdp.identity_component_runs() }})

),

measures as (

    select
        'customers' as measure,
        cast(count(distinct customer_id) as {{ cdp.type_double() }}) as measure_value
    from records
    union all
    select
        'records' as measure,
        count(*) as measure_value
    from records
    union all
    select
        'records_without_usable_identifier' as measure,
        count(*) as measure_value
    from records
    where not is_resolved
    union all
    select
        'identifiers' as measure,
        count(*) as measure_value
    from graph
    union all
    select
        'largest_cluster_identifiers' as measure,
        max(identifiers) as measure_value
    from clusters
    union all
    select
        'clusters_of_1_identifier' as measure,
        count(*) as measure_value
    from clusters
    where identifiers = 1
    union all
    select
        'clusters_of_2_to_5_identifiers' as measure,
        count(*) as measure_value
    from clusters
    where identifiers between 2 and 5
    union all
    select
        'clusters_of_6_to_20_identifiers' as measure,
        count(*) as measure_value
    from clusters
    where identifiers between 6 and 20
    union all
    select
        'clusters_of_21_to_100_identifiers' as measure,
        count(*) as measure_value
    from clusters
    where identifiers between 21 and 100
    union all
    select
        'clusters_of_over_100_identifiers' as measure,
        count(*) as measure_value
    from clusters
    where identifiers > 100
    union all
    select
        {{ dbt.concat(["'excluded_'", 'exclusion_kind']) }} as measure,
        count(*) as measure_value
    from (
        -- 'suppressed (privacy request <id>)' counts as suppressed, whatever the request.
        select case when exclusion_reason like 'suppressed%' then 'suppressed' else exclusion_reason end as exclusion_kind
        from excluded
    ) as kinds
    group by exclusion_kind
    union all
    select
        'last_run_rounds' as measure,
        max(rounds) as measure_value
    from last_run
    union all
    select
        'last_run_limit_violations' as measure,
        max(limit_violations) as measure_value
    from last_run
    union all
    select
        'last_run_cut_links' as measure,
        max(cut_edges) as measure_value
    from last_run
    union all
    select
        'last_run_seconds' as measure,
        max(seconds) as measure_value
    from last_run

)

select
    measure,
    measure_value
from measures
