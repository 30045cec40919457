{%- if cdp.source_family_enabled('web_events') %}
with

source as (

    select
        {{ cdp.source_columns('segment', 'identifies') }}
    from {{ source('segment', 'identifies') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as identify_id,
        {{ cdp.clean_string('anonymous_id') }} as anonymous_id,
        {{ cdp.clean_string('user_id') }} as user_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        {{ cdp.clean_string('first_name') }} as first_name,
        {{ cdp.clean_string('last_name') }} as last_name,
        {{ cdp.clean_string('context_ip') }} as ip_address,
        {{ cdp.clean_string('context_user_agent') }} as user_agent,
        cast({{ adapter.quote('timestamp') }} as {{ dbt.type_timestamp() }}) as identified_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at

    from source

)

select * from renamed

{%- else %}

-- The web_events source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
