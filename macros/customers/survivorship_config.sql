{#- The survivorship rules (var cdp_survivorship in dbt_project.yml), checked: every attribute of the golden
    record needs one rule; unknown attributes, rules, sources or keys are a compile error naming the file and
    the key. Returns {attribute: {rule, sources}} with sources an ordered list (empty: every source). -#}
{% macro survivorship_config() -%}
    {{ return(adapter.dispatch('survivorship_config', 'cdp')()) }}
{%- endmacro %}

{% macro default__survivorship_config() -%}
    {%- set where = "dbt_project.yml: vars.cdp_survivorship" -%}
    {%- set rules = ['most_recent', 'source_priority', 'most_frequent', 'first_non_null'] -%}
    {%- set attributes = cdp.survivorship_attributes() -%}
    {%- set config = var('cdp_survivorship', none) -%}
    {%- if config is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ " is missing or not a mapping; give each of " ~ attributes.keys() | join(', ') ~ " a rule (see docs/customer_360.md)") }}
    {%- endif -%}
    {%- for attribute in config if attribute not in attributes -%}
        {{ exceptions.raise_compiler_error(where ~ "." ~ attribute ~ ": unknown attribute; the attributes are " ~ attributes.keys() | join(', ')) }}
    {%- endfor -%}
    {%- set checked = {} -%}
    {%- for attribute, spec in attributes.items() -%}
        {%- set key = where ~ "." ~ attribute -%}
        {%- set entry = config.get(attribute) -%}
        {%- if entry is none -%}
            {{ exceptions.raise_compiler_error(key ~ " is missing; give it a rule: " ~ rules | join(', ')) }}
        {%- endif -%}
        {%- if entry is not mapping -%}
            {{ exceptions.raise_compiler_error(key ~ " must be a mapping such as {rule: most_recent}") }}
        {%- endif -%}
        {%- for setting in entry if setting not in ['rule', 'sources'] -%}
            {{ exceptions.raise_compiler_error(key ~ "." ~ setting ~ ": unknown setting; use rule and sources") }}
        {%- endfor -%}
        {%- if entry.get('rule') not in rules -%}
            {{ exceptions.raise_compiler_error(key ~ ".rule: '" ~ entry.get('rule') ~ "' is not a survivorship rule; use one of " ~ rules | join(', ')) }}
        {%- endif -%}
        {%- set sources = entry.get('sources', []) -%}
        {%- if sources is string or sources is mapping or sources is not iterable -%}
            {{ exceptions.raise_compiler_error(key ~ ".sources must be a list of sources, best first, such as [" ~ spec.sources | join(', ') ~ "]") }}
        {%- endif -%}
        {%- for source in sources -%}
            {%- if source not in spec.sources -%}
                {{ exceptions.raise_compiler_error(key ~ ".sources: '" ~ source ~ "' is not a source of " ~ attribute ~ "; its sources are " ~ spec.sources | join(', ')) }}
            {%- endif -%}
            {%- if source in sources[:loop.index0] -%}
                {{ exceptions.raise_compiler_error(key ~ ".sources: '" ~ source ~ "' is listed twice") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if entry.rule == 'source_priority' and sources | length == 0 -%}
            {{ exceptions.raise_compiler_error(key ~ ".sources: source_priority needs the sources in order, best first, such as [" ~ spec.sources | join(', ') ~ "]") }}
        {%- endif -%}
        {%- do checked.update({attribute: {'rule': entry.rule, 'sources': sources | list, 'columns': spec.columns}}) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}
