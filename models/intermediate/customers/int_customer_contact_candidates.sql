{{ config(**cdp.incremental_mart_config()) }}
{#- Every observation of a customer's usable emails and phones, one row per source record and identifier:
    the identity graph's values (normalized, junk and hubs left out) with the source that carried them.
    Survivorship (vars.cdp_survivorship.primary_email / primary_phone) picks the primary ones. -#}
with

observations as (

    select * from {{ ref('int_identifiers_validated') }}
    where identifier_type in ('email', 'phone') and exclusion_reason is null

),

graph as (

    select * from {{ ref('identity_graph') }}
    where identifier_type in ('email', 'phone') and {{ cdp.customer_rows_filter('customer_id') }}

),

candidates as (

    select
        graph.customer_id,
        observations.source_table,
        observations.record_id,
        {{ cdp.survivorship_source_label('observations.source_table') }} as source,
        observations.observed_at,
        observations.identifier_type,
        observations.identifier_value
    from observations
    inner join graph
        on observations.identifier_type = graph.identifier_type and observations.identifier_value = graph.identifier_value

)

select * from candidates
