{#- A model's common table expressions, gathered in order by `cte` call blocks and written out by `with_ctes`
    as one WITH clause. Spark inlines every deterministic CTE at each place it is read, so a CTE read several
    times, and the CTEs it reads, are planned again at each. On Spark the CTEs named in `staged` are computed
    first, one statement each, and cached (CACHE TABLE, in memory, spilled to disk); the later statements read
    them as leaves of their plans. Every CTE up to the last staged one becomes a temporary view
    (cdp_staged__<name>, the references to it renamed), the unstaged ones plain (lazy) views: Spark's cache
    does not find a cached query that holds a WITH clause again when a later query reads it twice (its CTE
    ids differ at each reading), a query of views it does. drop_staged_ctes, a post-hook, drops the views. -#}
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
    {%- set names = ctes | map(attribute='name') | list -%}
    {%- set staged_here = names | select('in', staged) | list -%}
    {%- if not execute or not staged_here -%}
        {{ return(cdp.default__with_ctes(ctes, [])) }}
    {%- endif -%}
    {%- set viewed = names[:names.index(staged_here | last) + 1] -%}
    {#- A reference to a viewed CTE is a name right after FROM or JOIN (not followed by a dot: a schema), and only
        there is it renamed, so a column or a qualifier spelled like a CTE is left alone. An aliased reference
        keeps its alias; an unaliased one gets its old name as alias, so `name.column` still resolves. -#}
    {%- set reference = '(?i)\\b(from|join)(\\s+)(' ~ viewed | join('|') ~ ')' -%}
    {%- set rest = [] -%}
    {%- for cte in ctes -%}
        {%- set aliased = modules.re.sub(reference ~ '(\\s+as\\s)', '\\1\\2cdp_staged__\\3\\4', cte.sql) -%}
        {%- set sql = modules.re.sub(reference ~ '(?![\\w.])', '\\1\\2cdp_staged__\\3 as \\3', aliased) -%}
        {%- if cte.name in viewed -%}
            {%- set view = 'cdp_staged__' ~ cte.name -%}
            {%- do run_query('drop view if exists ' ~ view) -%}
            {%- if cte.name in staged -%}
                {%- do run_query('cache table ' ~ view ~ ' as ' ~ sql) -%}
            {%- else -%}
                {%- do run_query('create temporary view ' ~ view ~ ' as ' ~ sql) -%}
            {%- endif -%}
        {%- else -%}
            {%- do rest.append({'name': cte.name, 'sql': sql}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(cdp.default__with_ctes(rest, []) if rest else '') }}
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
