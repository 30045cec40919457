{%- set mode = cdp.customer_changes_mode() -%}
{%- set rewritten = '(unioned.event_id in (' ~ cdp.events_changed_ids() ~ ') or records.customer_id in ('
    ~ cdp.customers_touched('identity') ~ '))' -%}
{%- if mode != 'incremental' -%}{%- set rewritten = '1 = 1' -%}{%- endif -%}
{{ config(**cdp.incremental_mart_config(delete='events_delete')) }}
-- One row per web or app behavioural event (Segment tracks and page views, mobile app events) with the
-- customer it belongs to. Events of forgotten (suppressed) customers are left out.
-- Incremental (docs/customer_360.md, "Incremental builds"): a build writes again only the events it may change.
with

records as (

    select * from {{ ref('identity_records') }}
    where source_table in ('stg_segment__tracks', 'stg_segment__pages', 'stg_app__events')

),

customers as (

    select customer_id from {{ ref('customers') }}

),

tracks as (

    select
        track_id as event_id,
        'stg_segment__tracks' as source_table,
        'web' as event_source,
        'track' as event_type,
        event_name,
        anonymous_id,
        cast(null as {{ dbt.type_string() }}) as device_id,
        user_id,
        cast(null as {{ dbt.type_string() }}) as page_path,
        product_id,
        cart_id,
        cast(revenue as {{ cdp.type_double() }}) as revenue,
        cast(null as {{ dbt.type_string() }}) as platform,
        tracked_at as occurred_at,
        received_at
    from {{ ref('stg_segment__tracks') }}

),

pages as (

    select
        page_id as event_id,
        'stg_segment__pages' as source_table,
        'web' as event_source,
        'page' as event_type,
        'Page Viewed' as event_name,
        anonymous_id,
        cast(null as {{ dbt.type_string() }}) as device_id,
        user_id,
        path as page_path,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as cart_id,
        cast(null as {{ cdp.type_double() }}) as revenue,
        cast(null as {{ dbt.type_string() }}) as platform,
        viewed_at as occurred_at,
        received_at
    from {{ ref('stg_segment__pages') }}

),

app_events as (

    select
        app_event_id as event_id,
        'stg_app__events' as source_table,
        'app' as event_source,
        'app' as event_type,
        event_name,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        device_id,
        user_id,
        cast(null as {{ dbt.type_string() }}) as page_path,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as cart_id,
        cast(null as {{ cdp.type_double() }}) as revenue,
        platform,
        occurred_at,
        received_at
    from {{ ref('stg_app__events') }}

),

unioned as (

    select * from tracks
    union all
    select * from pages
    union all
    select * from app_events

),

joined as (

    select
        unioned.event_id,
        records.customer_id,
        unioned.event_source,
        unioned.event_type,
        unioned.event_name,
        unioned.anonymous_id,
        unioned.device_id,
        unioned.user_id,
        unioned.page_path,
        unioned.product_id,
        unioned.cart_id,
        unioned.revenue,
        unioned.platform,
        unioned.occurred_at,
        unioned.received_at
    from unioned
    left join records on unioned.source_table = records.source_table and unioned.event_id = records.record_id
    left join customers on records.customer_id = customers.customer_id
    where
        (records.customer_id is null or customers.customer_id is not null)
        and {{ rewritten }}

)

select * from joined
