{%- if cdp.source_family_enabled('crm') %}
with

source as (

    select * from {{ source('crm', 'crm_contacts') }}

),

renamed as (

    select
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        {{ cdp.clean_string('first_name') }} as first_name,
        {{ cdp.clean_string('last_name') }} as last_name,
        {{ cdp.clean_string('street') }} as street,
        {{ cdp.clean_string('city') }} as city,
        {{ cdp.clean_string('postal_code') }} as postal_code,
        upper({{ cdp.clean_string('country') }}) as country_code,
        lower({{ cdp.clean_string('lifecycle_stage') }}) as lifecycle_stage,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast({{ cdp.clean_string('date_of_birth') }} as date) as date_of_birth

    from source

)

select * from renamed

{%- else %}

-- The crm source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
