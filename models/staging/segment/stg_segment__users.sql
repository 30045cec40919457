{%- if cdp.source_family_enabled('web_events') and cdp.loader_table_enabled('users') %}
-- The loader's users table (vars.cdp_loader_tables.users): the latest traits per user id, as one more identity
-- source beside identifies. Traits are columns only once a value arrived; absent ones read as null.
with

source as (

    select
        {{ cdp.source_columns('segment', 'users') }}
    from {{ source('segment', 'users') }}

),

renamed as (

    select
        cast({{ cdp.clean_string('id') }} as {{ dbt.type_string() }}) as user_id,
        {{ cdp.clean_string('anonymous_id') }} as anonymous_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        {{ cdp.clean_string('first_name') }} as first_name,
        {{ cdp.clean_string('last_name') }} as last_name,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at

    from source
    where {{ cdp.clean_string('id') }} is not null

)

select * from renamed

{%- else %}

-- The web_events family or vars.cdp_loader_tables.users is off: no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
