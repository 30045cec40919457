{%- if cdp.source_family_enabled('web_events') %}
with

source as (

    select
        {{ cdp.source_columns('segment', 'pages') }}
    from {{ source('segment', 'pages') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as page_id,
        {{ cdp.clean_string('anonymous_id') }} as anonymous_id,
        {{ cdp.clean_string('user_id') }} as user_id,
        {{ cdp.clean_string('url') }} as url,
        {{ cdp.clean_string('path') }} as path,
        {{ cdp.clean_string('referrer') }} as referrer,
        {{ cdp.clean_string('title') }} as title,
        {{ cdp.clean_string('context_user_agent') }} as user_agent,
        cast({{ adapter.quote('timestamp') }} as {{ dbt.type_timestamp() }}) as viewed_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at

    from source

)

select * from renamed

{%- else %}

-- The web_events source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
