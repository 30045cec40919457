{%- if cdp.source_family_enabled('web_events') %}
with

source as (

    select
        {{ cdp.source_columns('segment', 'tracks') }}
    from {{ source('segment', 'tracks') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as track_id,
        {{ cdp.clean_string('anonymous_id') }} as anonymous_id,
        {{ cdp.clean_string('user_id') }} as user_id,
        -- Segment and RudderStack keep the name as sent in event_text and a snake_case slug in event;
        -- seeds/event_name_mappings.csv renames either to the project's names.
        {{ cdp.mapped_event_name("coalesce(" ~ cdp.clean_string('event_text') ~ ", " ~ cdp.clean_string('event') ~ ")") }} as event_name,
        {{ cdp.clean_string('product_id') }} as product_id,
        {{ cdp.clean_string('cart_id') }} as cart_id,
        cast(revenue as {{ dbt.type_numeric() }}) as revenue,
        {{ cdp.clean_string('context_ip') }} as ip_address,
        {{ cdp.clean_string('context_user_agent') }} as user_agent,
        cast({{ adapter.quote('timestamp') }} as {{ dbt.type_timestamp() }}) as tracked_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at

    from source

)

select * from renamed

{%- else %}

-- The web_events source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
