{%- if cdp.source_family_enabled('consent') %}
with

source as (

    select * from {{ source('privacy', 'consents') }}

),

renamed as (

    select
        cast(consent_id as {{ dbt.type_string() }}) as consent_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        {{ cdp.clean_string('user_id') }} as user_id,
        lower({{ cdp.clean_string('channel') }}) as consent_channel,
        lower({{ cdp.clean_string('status') }}) as consent_status,
        lower(status) = 'granted' as is_granted,
        lower({{ cdp.clean_string('source') }}) as consent_source,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at

    from source

)

select * from renamed

{%- else %}

-- The consent source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
