{#- Values looked up once per dbt invocation and shared by every node of it (docs/customer_360.md, "Lookups
    made once per build"), instead of one query per node. A dict kept in dbt's `graph` (one object for every
    node of an invocation), emptied when a new invocation (another invocation_id) first asks for it. Only
    values that cannot change during the invocation go in: the previous identity build's log rows (written by
    an earlier invocation), this invocation's mode once logged, the project's fingerprint. -#}
{% macro invocation_cache() -%}
    {%- set cache = graph.setdefault('cdp_invocation_cache', {}) -%}
    {%- if cache.get('invocation_id') != invocation_id -%}
        {%- do cache.clear() -%}
        {%- do cache.update({'invocation_id': invocation_id}) -%}
    {%- endif -%}
    {{ return(cache) }}
{%- endmacro %}

{#- The previous identity build's log rows of `kind` ('marts': {mart: config_hash} of its 'mart full' and 'mart
    incremental' rows; 'marks': {source model: its lowest high-water mark as a string}), read once per
    invocation; {} when there is no previous build. -#}
{% macro previous_build_rows(kind) -%}
    {%- set cache = cdp.invocation_cache() -%}
    {%- set key = 'previous ' ~ kind -%}
    {%- if key not in cache -%}
        {%- set previous = cdp.previous_identity_build() -%}
        {%- set found = {} -%}
        {%- if previous is not none and kind == 'marts' -%}
            {%- set rows = run_query("select name, config_hash from " ~ cdp.identity_build_log() ~ " where kind in"
                ~ " ('mart full', 'mart incremental') and invocation_id = '" ~ previous ~ "'").rows -%}
            {#- A mart logged twice in one build counts as not logged (the lookups wanted exactly one row). -#}
            {%- for row in rows -%}
                {%- do found.update({row[0]: none if row[0] in found else row[1]}) -%}
            {%- endfor -%}
        {%- elif previous is not none and kind == 'marks' -%}
            {%- set rows = run_query("select name, cast(min(watermark) as " ~ dbt.type_string() ~ ") from "
                ~ cdp.identity_build_log() ~ " where kind = 'marks' and invocation_id = '" ~ previous ~ "' group by name").rows -%}
            {%- for row in rows -%}{%- do found.update({row[0]: row[1]}) -%}{%- endfor -%}
        {%- endif -%}
        {%- do cache.update({key: found}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}
