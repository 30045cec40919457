{#- The declared columns of a raw source table (its sources YAML), as a select list: a column the table lacks
    becomes a typed null, so loader tables that create a column only once a value arrives (Segment, RudderStack:
    a trait nobody sent, tracks without revenue) still build. A missing column declared with meta.required is a
    compile error naming the table and the column. Columns not declared are not read. -#}
{% macro source_columns(source_name, table_name) -%}
    {{ return(adapter.dispatch('source_columns', 'cdp')(source_name, table_name)) }}
{%- endmacro %}

{% macro default__source_columns(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {#- A unit test's fixture rows have the table's columns, and its compile context has no graph: read them
        as they are. -#}
    {%- if not execute or (model is mapping and model.get('resource_type') == 'unit_test') -%}
        {{ return('*') }}
    {%- endif -%}
    {%- set node = graph.sources.get('source.cdp.' ~ source_name ~ '.' ~ table_name) -%}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- if present | length == 0 -%}
        {{ exceptions.raise_compiler_error("source " ~ source_name ~ "." ~ table_name ~ ": table " ~ relation ~ " does not exist or has no columns; point vars.cdp_raw_schema at your loader's schema or switch the family off (vars.cdp_sources)") }}
    {%- endif -%}
    {%- set selected = [] -%}
    {%- for column in node.columns.values() -%}
        {%- if column.name | lower in present -%}
            {%- do selected.append(adapter.quote(column.name)) -%}
        {%- elif (column.meta or {}).get('required') -%}
            {{ exceptions.raise_compiler_error("source " ~ source_name ~ "." ~ table_name ~ ": " ~ relation ~ " has no column " ~ column.name ~ ", which staging needs (docs/sources.md)") }}
        {%- else -%}
            {%- do selected.append("cast(null as " ~ cdp.declared_type(column.data_type) ~ ") as " ~ adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(selected | join(',\n        ')) }}
{%- endmacro %}
