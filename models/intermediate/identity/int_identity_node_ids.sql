{{ config(materialized='incremental', full_refresh=false, on_schema_change='append_new_columns') }}
{#- The node registry: every usable identifier value gets an integer id once and keeps it for good (kept
    across --full-refresh); values seen for the first time are numbered after the largest id, in
    (type, value) order. Ids therefore never depend on the build's data, and the connected components of
    an incremental build are read back by id. -#}
{%- set run_at = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}

with

usable as (

    select distinct
        identifier_type,
        identifier_value
    from {{ ref('int_identifiers_validated') }}
    where exclusion_reason is null and suppressing_request_id is null

),

unregistered as (

    select usable.*
    from usable
    {%- if is_incremental() %}
        where not exists (
            select 1 from {{ this }} as registered
            where registered.identifier_type = usable.identifier_type and registered.identifier_value = usable.identifier_value
        )
    {%- endif %}

),

numbered as (

    select
        {%- if is_incremental() %}
            (select coalesce(max(node_id), 0) from {{ this }})
            + row_number() over (order by identifier_type, identifier_value) as node_id,
        {%- else %}
            row_number() over (order by identifier_type, identifier_value) as node_id,
        {%- endif %}
        identifier_type,
        identifier_value,
        {{ run_at }} as registered_at
    from unregistered

)

select
    cast(node_id as {{ dbt.type_bigint() }}) as node_id,
    cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
    cast(identifier_value as {{ dbt.type_string() }}) as identifier_value,
    cast(registered_at as {{ dbt.type_timestamp() }}) as registered_at
from numbered
