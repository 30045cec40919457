{{ config(materialized='incremental', full_refresh=false, unique_key='membership_id', incremental_strategy='delete+insert', on_schema_change='append_new_columns') }}

-- Who entered and left each segment, across builds: a row per stay in a segment, open while exited_at is null.
{%- set segments = ['seg_high_value', 'seg_churn_risk', 'seg_new_customers', 'seg_cart_abandoners'] %}
{%- set run_at = cdp.run_started_at_timestamp() %}

with

current_members as (
    {%- for segment in segments %}
        select
            customer_id,
            '{{ segment }}' as segment_name
        from {{ ref(segment) }}
        union all
    {%- endfor %}
    select
        customer_id,
        segment_name
    from {{ ref('seg_declared') }}
),

{% if is_incremental() %}
    open_memberships as (

        select * from {{ this }}
        where exited_at is null

    ),

    entered as (

        select
            current_members.customer_id,
            current_members.segment_name,
            {{ run_at }} as entered_at,
            cast(null as {{ dbt.type_timestamp() }}) as exited_at
        from current_members
        left join open_memberships
            on
                current_members.customer_id = open_memberships.customer_id
                and current_members.segment_name = open_memberships.segment_name
        where open_memberships.customer_id is null

    ),

    exited as (

        select
            open_memberships.customer_id,
            open_memberships.segment_name,
            open_memberships.entered_at,
            {{ run_at }} as exited_at
        from open_memberships
        left join current_members
            on
                open_memberships.customer_id = current_members.customer_id
                and open_memberships.segment_name = current_members.segment_name
        where current_members.customer_id is null

    ),

    changes as (

        select * from entered
        union all
        select * from exited

    )
{% else %}
    changes as (

        select
            customer_id,
            segment_name,
            {{ run_at }} as entered_at,
            cast(null as {{ dbt.type_timestamp() }}) as exited_at
        from current_members

    )
{% endif %}

select
    cast({{ dbt.concat(['customer_id', "'|'", 'segment_name', "'|'", "cast(entered_at as " ~ dbt.type_string() ~ ")"]) }} as {{ dbt.type_string() }}) as membership_id,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(segment_name as {{ dbt.type_string() }}) as segment_name,
    cast(entered_at as {{ dbt.type_timestamp() }}) as entered_at,
    cast(exited_at as {{ dbt.type_timestamp() }}) as exited_at
from changes
