{%- if cdp.source_family_enabled('support') %}
with

source as (

    select * from {{ source('support', 'support_tickets') }}

),

renamed as (

    select
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        lower({{ cdp.clean_string('channel') }}) as ticket_channel,
        {{ cdp.clean_string('subject') }} as subject,
        lower({{ cdp.clean_string('status') }}) as ticket_status,
        lower(status) = 'solved' as is_solved,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(solved_at as {{ dbt.type_timestamp() }}) as solved_at,
        {{ cdp.clean_string('first_name') }} as first_name,
        {{ cdp.clean_string('last_name') }} as last_name,
        cast({{ cdp.clean_string('date_of_birth') }} as date) as date_of_birth

    from source

)

select * from renamed

{%- else %}

-- The support source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
