{%- if cdp.source_family_enabled('email') %}
with

source as (

    select * from {{ source('esp', 'email_events') }}

),

renamed as (

    select
        cast(event_id as {{ dbt.type_string() }}) as email_event_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        lower({{ cdp.clean_string('event_type') }}) as event_type,
        {{ cdp.clean_string('campaign_id') }} as campaign_id,
        {{ cdp.clean_string('url') }} as url,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at

    from source

)

select * from renamed

{%- else %}

-- The email source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
