{%- if cdp.source_family_enabled('dmp') %}
with

source as (

    select * from {{ source('dmp', 'cookie_syncs') }}

),

renamed as (

    select
        cast(sync_id as {{ dbt.type_string() }}) as cookie_sync_id,
        lower({{ cdp.clean_string('partner') }}) as partner,
        {{ cdp.clean_string('partner_cookie_id') }} as partner_cookie_id,
        {{ cdp.clean_string('anonymous_id') }} as anonymous_id,
        cast(synced_at as {{ dbt.type_timestamp() }}) as synced_at

    from source

)

select * from renamed

{%- else %}

-- The dmp source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
