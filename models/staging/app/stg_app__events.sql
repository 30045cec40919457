{%- if cdp.source_family_enabled('app') %}
with

source as (

    select * from {{ source('app', 'app_events') }}

),

renamed as (

    select
        cast(event_id as {{ dbt.type_string() }}) as app_event_id,
        -- Advertising ids arrive upper-case from iOS and lower-case from Android: one spelling for matching.
        lower({{ cdp.clean_string('device_id') }}) as device_id,
        lower({{ cdp.clean_string('device_type') }}) as device_type,
        {{ cdp.clean_string('user_id') }} as user_id,
        lower({{ cdp.clean_string('platform') }}) as platform,
        {{ cdp.clean_string('event_name') }} as event_name,
        {{ cdp.clean_string('app_version') }} as app_version,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at

    from source

)

select * from renamed

{%- else %}

-- The app source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
