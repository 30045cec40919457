{#- The WHERE clause of one declared segment, over customer_traits joined to customers (segment_members_sql).
    A definition has `rule:` (one node, see segment_node_sql) or the older `conditions:` (a list of nodes that
    must all hold). `context` holds fields (column: data type), segments (name: definition, for {segment: ...}),
    origins (name: 'file: key' for errors) and relations (customer_traits, customers, events, order_lines). -#}
{% macro segment_rule_sql(name, definition, context, stack=[]) -%}
    {%- set where = context.origins.get(name, 'segment ' ~ name) if name is string else 'segment ' ~ name -%}
    {%- if name is not string or not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
        {{ exceptions.raise_compiler_error(where ~ ": segment names are lower-case letters, digits and underscores") }}
    {%- endif -%}
    {%- set has_rule = definition is mapping and definition.get('rule') is not none -%}
    {%- set conditions = definition.get('conditions') if definition is mapping else none -%}
    {%- if has_rule and conditions is not none -%}
        {{ exceptions.raise_compiler_error(where ~ ": give either rule or conditions, not both") }}
    {%- endif -%}
    {%- if definition is mapping -%}
        {%- for extra in definition if extra not in ['description', 'rule', 'conditions'] -%}
            {{ exceptions.raise_compiler_error(where ~ "." ~ extra ~ ": not a key of a segment (description, rule, conditions)") }}
        {%- endfor -%}
    {%- endif -%}
    {%- if has_rule -%}
        {%- set sql = segment_node_sql(definition.rule, context, where ~ ".rule", stack + [name]) | trim -%}
    {%- else -%}
        {%- if conditions is none or conditions is string or conditions is mapping or conditions is not iterable or conditions | length == 0 -%}
            {{ exceptions.raise_compiler_error(where ~ ".conditions must list at least one {trait, op, value}") }}
        {%- endif -%}
        {%- set parts = [] -%}
        {%- for condition in conditions -%}
            {%- do parts.append(segment_node_sql(condition, context, where ~ ".conditions[" ~ loop.index0 ~ "]", stack + [name]) | trim) -%}
        {%- endfor -%}
        {%- set sql = parts | join(' and ') -%}
    {%- endif -%}
    {{- sql -}}
{%- endmacro %}
