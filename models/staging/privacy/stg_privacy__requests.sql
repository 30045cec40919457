{%- if cdp.source_family_enabled('privacy') %}
with

source as (

    select * from {{ source('privacy', 'privacy_requests') }}

),

renamed as (

    select
        cast(request_id as {{ dbt.type_string() }}) as privacy_request_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        {{ cdp.clean_string('user_id') }} as user_id,
        lower({{ cdp.clean_string('request_type') }}) as request_type,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at

    from source

)

select * from renamed

{%- else %}

-- The privacy source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
