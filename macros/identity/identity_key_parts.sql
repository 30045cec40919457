{#- The parts of a composite identifier type (rules.parts: a mapping of part name to its normalization, in
    key order), checked, as a list of {name, rule}; an empty list for a single-column type. `key` names the
    type in compile errors. -#}
{% macro identity_key_parts(rules, key) -%}
    {%- set parts = rules.get('parts') -%}
    {%- if parts is none -%}{{ return([]) }}{%- endif -%}
    {%- set part_rules = ['trim', 'lower', 'compact', 'digits', 'date'] -%}
    {%- if parts is not mapping or parts | length < 2 -%}
        {{ exceptions.raise_compiler_error(key ~ ".parts must map at least two part names to a normalization (" ~ part_rules | join(', ') ~ "), e.g. {last_name: compact, date_of_birth: date}") }}
    {%- endif -%}
    {%- for rule in ['normalize', 'fold_gmail'] if rules.get(rule) is not none -%}
        {{ exceptions.raise_compiler_error(key ~ "." ~ rule ~ " applies to single-column identifiers; a composite key normalizes each of its parts (" ~ key ~ ".parts)") }}
    {%- endfor -%}
    {%- set checked = [] -%}
    {%- for name, rule in parts.items() -%}
        {%- if rule not in part_rules -%}
            {{ exceptions.raise_compiler_error(key ~ ".parts." ~ name ~ " must be one of " ~ part_rules | join(', ') ~ ", got " ~ rule) }}
        {%- endif -%}
        {%- do checked.append({'name': name, 'rule': rule}) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}
