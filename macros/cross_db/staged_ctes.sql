{#- A model's common table expressions, gathered in order by `cte` call blocks and written out by `with_ctes`
    as one WITH clause. Spark inlines every deterministic CTE at each place it is read, so a CTE read several
    times, and the CTEs it reads, are planned again at each: on Spark the CTEs named in `staged` are computed
    first, one statement each, and cached as temporary views (cdp_staged__<name>) which the later statements
    read instead (a small plan per statement). drop_staged_ctes, a post-hook, drops those views. -#}
{% macro cte(ctes, name) -%}
    {%- do ctes.append({'name': name, 'sql': caller()}) -%}
{%- endmacro %}

{% macro with_ctes(ctes, staged=[]) -%}
    {{ return(adapter.dispatch('with_ctes', 'cdp')(ctes, staged)) }}
{%- endmacro %}

{% macro default__with_ctes(ctes, staged) -%}
with
{% for cte in ctes %}
{{ cte.name }} as (
{{ cte.sql }}
){{ ',' if not loop.last }}
{% endfor %}
{%- endmacro %}

{% macro spark__with_ctes(ctes, staged) -%}
    {%- set pending = [] -%}
    {%- for cte in ctes -%}
        {%- if execute and cte.name in staged -%}
            {%- set view = 'cdp_staged__' ~ cte.name -%}
            {%- do run_query('drop view if exists ' ~ view) -%}
            {%- set read = cdp.ctes_read(pending, cte.sql) + [cte] -%}
            {%- do run_query('cache table ' ~ view ~ ' as ' ~ cdp.default__with_ctes(read, []) ~ ' select * from ' ~ cte.name) -%}
            {%- do pending.append({'name': cte.name, 'sql': 'select * from ' ~ view}) -%}
        {%- else -%}
            {%- do pending.append(cte) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(cdp.default__with_ctes(pending, [])) }}
{%- endmacro %}

{#- The CTEs of `ctes` that `sql` reads, directly or through another (by name, in their order). -#}
{% macro ctes_read(ctes, sql) -%}
    {%- set read = [] -%}
    {%- set texts = [sql] -%}
    {%- for cte in ctes | reverse -%}
        {%- if modules.re.search('\\b' ~ cte.name ~ '\\b', texts | join('\n')) -%}
            {%- do read.insert(0, cte) -%}
            {%- do texts.append(cte.sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(read) }}
{%- endmacro %}

{% macro drop_staged_ctes() -%}
    {{ return(adapter.dispatch('drop_staged_ctes', 'cdp')()) }}
{%- endmacro %}

{% macro default__drop_staged_ctes() -%}
{%- endmacro %}

{% macro spark__drop_staged_ctes() -%}
    {%- if execute -%}
        {%- for row in run_query("show views like 'cdp_staged__*'") if row['isTemporary'] -%}
            drop view if exists {{ row['viewName'] }};
        {% endfor -%}
    {%- endif -%}
{%- endmacro %}
