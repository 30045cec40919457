{#- Dialling facts of one country, used to read national phone numbers: calling code, trunk prefix
    (dialled before a national number inside the country), international prefix and national number length.
    Read at compile time from the seed country_phone_plans (seeds/country_phone_plans.csv), which builds first. -#}
{% macro phone_numbering_plan(country) -%}
    {{ return(adapter.dispatch('phone_numbering_plan', 'cdp')(country)) }}
{%- endmacro %}

{% macro default__phone_numbering_plan(country) -%}
    {#- ref() makes the seed build first; a unit test (which may give only its model's inputs) reads the same
        relation through the graph instead. -#}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}
        {%- set seed = (graph.get('nodes') or {}).get('seed.cdp.country_phone_plans') or {} -%}
        {%- set plans = api.Relation.create(
            database=seed.get('database', target.database),
            schema=seed.get('schema', generate_schema_name('config', none)),
            identifier=seed.get('alias', 'country_phone_plans')) -%}
    {%- else -%}
        {%- set plans = ref('country_phone_plans') -%}
    {%- endif -%}
    {%- set key = (country or '') | upper -%}
    {%- set where = "dbt_project.yml: vars.cdp_default_country '" ~ country ~ "'" -%}
    {%- if not modules.re.match('^[A-Z]{2}$', key) -%}
        {{ exceptions.raise_compiler_error(where ~ " is not an ISO 3166 alpha-2 country code") }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return({'calling_code': '1', 'trunk_prefix': '1', 'international_prefix': '011', 'min_length': 10, 'max_length': 10}) }}
    {%- endif -%}
    {%- if adapter.get_relation(plans.database, plans.schema, plans.identifier) is none -%}
        {{ exceptions.raise_compiler_error(where ~ ": its numbering plan is read from the seed country_phone_plans, which is not loaded yet; run dbt seed (dbt build does it first)") }}
    {%- endif -%}
    {%- set found = run_query(
        "select calling_code, trunk_prefix, international_prefix, min_length, max_length from " ~ plans
        ~ " where upper(country_code) = '" ~ key ~ "'") -%}
    {%- if found.rows | length != 1 -%}
        {%- set known = run_query("select country_code from " ~ plans ~ " order by country_code").columns[0].values() -%}
        {{ exceptions.raise_compiler_error(where ~ " has " ~ ("no" if found.rows | length == 0 else "more than one") ~ " numbering plan in seeds/country_phone_plans.csv; use one of " ~ known | join(', ') ~ " or add a row there") }}
    {%- endif -%}
    {%- set row = found.rows[0] -%}
    {{ return({
        'calling_code': row[0] | string,
        'trunk_prefix': (row[1] or '') | string,
        'international_prefix': row[2] | string,
        'min_length': row[3] | int,
        'max_length': row[4] | int,
    }) }}
{%- endmacro %}
