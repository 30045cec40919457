{#- SQL for one node of a segment rule, `key` naming it for errors. A node is a group, {all: [...]} (every
    node holds), {any: [...]} (at least one) or {none: [...]} (an exclusion: no node is known to hold; a null condition does not exclude), or a condition:
    {field: ...} (segment_field_sql), {event: ...} (segment_event_sql), {bought_category: ...} (segment_bought_sql), {segment: <name>} (the rule of another
    declared segment, inlined; `stack` refuses cycles) or {consent: <channel>} (has_<channel>_consent). -#}
{% macro segment_node_sql(node, context, key, stack) -%}
    {%- set node_kinds = ['all', 'any', 'none', 'field', 'trait', 'event', 'bought_category', 'segment', 'consent'] -%}
    {%- set found = node | select('in', node_kinds) | list if node is mapping else [] -%}
    {%- if found | length != 1 -%}
        {{ exceptions.raise_compiler_error(key ~ ": each condition is a mapping with one of " ~ node_kinds | join(', ') ~ " (got " ~ node ~ ")") }}
    {%- endif -%}
    {%- set kind = found[0] -%}
    {%- if kind in ['all', 'any', 'none'] -%}
        {%- set children = node[kind] -%}
        {%- if node | length != 1 or children is string or children is mapping or children is not iterable or children | length == 0 -%}
            {{ exceptions.raise_compiler_error(key ~ "." ~ kind ~ ": a group is {" ~ kind ~ ": [conditions...]} with at least one condition and no other key") }}
        {%- endif -%}
        {%- set parts = [] -%}
        {%- for child in children -%}
            {%- do parts.append(segment_node_sql(child, context, key ~ "." ~ kind ~ "[" ~ loop.index0 ~ "]", stack) | trim) -%}
        {%- endfor -%}
        {%- set sql = 'not coalesce((' ~ parts | join(' or ') ~ '), false)' if kind == 'none' else '(' ~ parts | join(' ' ~ ('and' if kind == 'all' else 'or') ~ ' ') ~ ')' -%}
    {%- elif kind in ['field', 'trait'] -%}
        {%- set sql = segment_field_sql(node, context, key) -%}
    {%- elif kind == 'event' -%}
        {%- set sql = segment_event_sql(node, context, key) -%}
    {%- elif kind == 'bought_category' -%}
        {%- set sql = segment_bought_sql(node, context, key) -%}
    {%- elif kind == 'segment' -%}
        {%- set name = node.segment -%}
        {%- if node | length != 1 or name is not string or name not in context.segments -%}
            {{ exceptions.raise_compiler_error(key ~ ".segment: '" ~ name ~ "' is not a declared segment (known: " ~ context.segments.keys() | sort | join(', ') ~ ")") }}
        {%- endif -%}
        {%- if name in stack -%}
            {{ exceptions.raise_compiler_error(key ~ ".segment: '" ~ name ~ "' refers back to itself (" ~ (stack + [name]) | join(' -> ') ~ ")") }}
        {%- endif -%}
        {%- set sql = '(' ~ (segment_rule_sql(name, context.segments[name], context, stack) | trim) ~ ')' -%}
    {%- else -%}
        {%- set channels = [] -%}
        {%- for column in context.fields | sort if column.startswith('has_') and column.endswith('_consent') -%}
            {%- do channels.append(column[4:-8]) -%}
        {%- endfor -%}
        {%- if node | length != 1 or node.consent not in channels -%}
            {{ exceptions.raise_compiler_error(key ~ ".consent: '" ~ node.consent ~ "' is not a channel (known: " ~ channels | join(', ') ~ ")") }}
        {%- endif -%}
        {%- set sql = 'has_' ~ node.consent ~ '_consent = true' -%}
    {%- endif -%}
    {{- sql -}}
{%- endmacro %}
