{{ config(materialized='incremental', full_refresh=false, unique_key='privacy_request_id', incremental_strategy='delete+insert', on_schema_change='append_new_columns') }}

-- Audit of applied deletion requests: what was asked, when, and which customer ids it suppressed.
with

suppressions as (

    select * from {{ ref('privacy_suppressions') }}

),

customers as (

    select * from {{ ref('suppressed_customers') }}

),

applied as (

    select
        suppressions.privacy_request_id,
        min(suppressions.requested_at) as requested_at,
        count(distinct {{ dbt.concat(['suppressions.identifier_type', "':'", 'suppressions.identifier_value']) }}) as identifiers_suppressed,
        {{ dbt.listagg('distinct customers.customer_id', "','") }} as customer_ids
    from suppressions
    left join customers on suppressions.privacy_request_id = customers.privacy_request_id
    group by suppressions.privacy_request_id

)

select
    cast(privacy_request_id as {{ dbt.type_string() }}) as privacy_request_id,
    cast('deletion' as {{ dbt.type_string() }}) as request_type,
    cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
    cast(identifiers_suppressed as {{ dbt.type_bigint() }}) as identifiers_suppressed,
    cast(customer_ids as {{ dbt.type_string() }}) as customer_ids,
    {{ cdp.run_started_at_timestamp() }} as applied_at
from applied
{% if is_incremental() %}
    where privacy_request_id not in (select privacy_request_id from {{ this }})
{% endif %}
