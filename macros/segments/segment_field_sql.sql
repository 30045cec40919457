{#- SQL for one condition on a field of customer_traits or customers: {field: <column>, op: <operator>, value}
    (`trait` is the older spelling of `field`). The field must be a known column, the operator one of those of
    its kind (segment_operators), each value a literal of that kind (segment_literal). -#}
{% macro segment_field_sql(condition, context, key) -%}
    {%- set field_key = 'field' if 'field' in condition else 'trait' -%}
    {%- set field = condition.get(field_key) -%}
    {%- if field is not string or field not in context.fields -%}
        {{ exceptions.raise_compiler_error(key ~ "." ~ field_key ~ ": '" ~ field ~ "' is not a column of customer_traits or customers (known: " ~ context.fields.keys() | sort | join(', ') ~ ")") }}
    {%- endif -%}
    {%- for extra in condition if extra not in [field_key, 'op', 'value'] -%}
        {{ exceptions.raise_compiler_error(key ~ "." ~ extra ~ ": not a key of a field condition (field, op, value)") }}
    {%- endfor -%}
    {%- set kind = segment_field_kind(context.fields[field]) -%}
    {%- set operators = segment_operators(kind) -%}
    {%- set operator = (condition.get('op') or '') | string | lower -%}
    {%- if operator not in operators -%}
        {{ exceptions.raise_compiler_error(key ~ ".op: '" ~ condition.get('op') ~ "' is not allowed for " ~ kind ~ " field " ~ field ~ "; use one of " ~ operators | join(', ')) }}
    {%- endif -%}
    {%- set value = condition.get('value') -%}
    {%- set value_key = key ~ ".value" -%}
    {%- if operator in ['is null', 'is not null'] -%}
        {{ return(field ~ ' ' ~ operator) }}
    {%- elif operator in ['is empty', 'is not empty'] -%}
        {%- set empty = "(" ~ field ~ " is null or " ~ field ~ " = '')" if kind == 'text' else field ~ " is null" -%}
        {{ return(empty if operator == 'is empty' else 'not ' ~ ("(" ~ empty ~ ")" if kind != 'text' else empty)) }}
    {%- elif operator in ['is true', 'is false'] -%}
        {{ return(field ~ ' = ' ~ ('true' if operator == 'is true' else 'false')) }}
    {%- elif operator in ['in', 'not in'] -%}
        {%- if value is string or value is not iterable or value is mapping or value | length == 0 -%}
            {{ exceptions.raise_compiler_error(value_key ~ ": '" ~ operator ~ "' needs a non-empty list") }}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for item in value -%}
            {%- do literals.append(segment_literal(item, kind, value_key ~ "[" ~ loop.index0 ~ "]")) -%}
        {%- endfor -%}
        {{ return(field ~ ' ' ~ operator ~ ' (' ~ literals | join(', ') ~ ')') }}
    {%- elif operator == 'between' -%}
        {%- if value is string or value is not iterable or value is mapping or value | length != 2 -%}
            {{ exceptions.raise_compiler_error(value_key ~ ": 'between' needs a list of two values [low, high]") }}
        {%- endif -%}
        {{ return('(' ~ field ~ ' between ' ~ segment_literal(value[0], kind, value_key ~ '[0]') ~ ' and ' ~ segment_literal(value[1], kind, value_key ~ '[1]') ~ ')') }}
    {%- elif operator in ['in last days', 'not in last days'] -%}
        {%- if not segment_is_count(value) -%}
            {{ exceptions.raise_compiler_error(value_key ~ ": '" ~ operator ~ "' needs a whole number of days (1 or more)") }}
        {%- endif -%}
        {%- set within = '(' ~ field ~ ' > ' ~ segment_days_before('as_of_at', value) ~ ' and ' ~ field ~ ' <= as_of_at)' -%}
        {{ return(within if operator == 'in last days' else 'not coalesce(' ~ within ~ ', false)') }}
    {%- endif -%}
    {{ return(field ~ ' ' ~ operator ~ ' ' ~ segment_literal(value, kind, value_key)) }}
{%- endmacro %}
