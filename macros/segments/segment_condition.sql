{#- SQL for one declared segment's conditions (vars.cdp_segments.<name>.conditions), each checked: the trait
    must be a column of customer_traits, the operator one of a safe few, the value a literal of a plain type.
    Any mistake is a compile error naming dbt_project.yml, the segment and the field. -#}
{% macro segment_condition(name, definition, traits) -%}
    {%- set where = "dbt_project.yml: vars.cdp_segments." ~ name -%}
    {%- set operators = ['=', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'is null', 'is not null'] -%}
    {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
        {{ exceptions.raise_compiler_error(where ~ ": segment names are lower-case letters, digits and underscores") }}
    {%- endif -%}
    {%- if definition is not mapping or definition.get('conditions') is none or definition.conditions | length == 0 -%}
        {{ exceptions.raise_compiler_error(where ~ ".conditions must list at least one {trait, op, value}") }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for condition in definition.conditions -%}
        {%- set key = where ~ ".conditions[" ~ loop.index0 ~ "]" -%}
        {%- if condition is not mapping or condition.get('trait') not in traits -%}
            {{ exceptions.raise_compiler_error(key ~ ".trait: '" ~ (condition.get('trait') if condition is mapping else condition) ~ "' is not a column of customer_traits (known: " ~ traits | join(', ') ~ ")") }}
        {%- endif -%}
        {%- set operator = (condition.get('op') or '') | lower -%}
        {%- if operator not in operators -%}
            {{ exceptions.raise_compiler_error(key ~ ".op: '" ~ condition.get('op') ~ "' is not allowed; use one of " ~ operators | join(', ')) }}
        {%- endif -%}
        {%- if operator in ['is null', 'is not null'] -%}
            {%- do parts.append(condition.trait ~ ' ' ~ operator) -%}
        {%- else -%}
            {%- set values = condition.get('value') if operator in ['in', 'not in'] else [condition.get('value')] -%}
            {%- if values is string or values is not iterable or values | length == 0 -%}
                {{ exceptions.raise_compiler_error(key ~ ".value: '" ~ operator ~ "' needs a non-empty list") }}
            {%- endif -%}
            {%- set literals = [] -%}
            {%- for value in values -%}
                {%- if value is sameas true or value is sameas false -%}
                    {%- do literals.append('true' if value else 'false') -%}
                {%- elif value is number -%}
                    {%- do literals.append(value | string) -%}
                {%- elif value is string -%}
                    {%- do literals.append("'" ~ value | replace("'", "''") ~ "'") -%}
                {%- else -%}
                    {{ exceptions.raise_compiler_error(key ~ ".value: " ~ value ~ " is not a number, text or true/false") }}
                {%- endif -%}
            {%- endfor -%}
            {%- if operator in ['in', 'not in'] -%}
                {%- do parts.append(condition.trait ~ ' ' ~ operator ~ ' (' ~ literals | join(', ') ~ ')') -%}
            {%- else -%}
                {%- do parts.append(condition.trait ~ ' ' ~ operator ~ ' ' ~ literals[0]) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(parts | join(' and ')) }}
{%- endmacro %}
