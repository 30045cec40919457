{{ config(materialized='incremental', full_refresh=false, on_schema_change='append_new_columns', post_hook="{{ cdp.identity_step_done() }}") }}
{#- The node registry: every usable identifier value gets an integer id once and keeps it for good (kept
    across --full-refresh); values seen for the first time are numbered after the largest id, in (type,
    value) order. Ids therefore never depend on the build's data, and the connected components of an
    incremental build are read back by id. An incremental build looks only at the records it changes. -#}
{%- set run_at = cdp.run_started_at_timestamp() -%}

with

usable as (

    select distinct
        identifier_type,
        identifier_value
    {%- if cdp.identity_applies_changes() %}
    from {{ ref('int_identity_record_changes') }}
    where change = 'new' and exclusion_reason is null and suppressing_request_id is null
    {%- else %}
    -- depends_on: {{ ref('int_identity_record_changes') }}
    from {{ ref('int_identifiers_validated') }}
    where exclusion_reason is null and suppressing_request_id is null
    {%- endif %}

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
