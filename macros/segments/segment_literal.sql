{#- One checked SQL literal for a field of `kind`: numbers for number fields, text for text fields (quotes
    doubled), 'YYYY-MM-DD[ HH:MM[:SS]]' for dates, true/false for booleans. Anything else is a compile error
    naming `key` (file, segment and field path). -#}
{% macro segment_literal(value, kind, key) -%}
    {%- set is_boolean = value is sameas true or value is sameas false -%}
    {%- if kind == 'boolean' or (kind == 'any' and is_boolean) -%}
        {%- if not is_boolean -%}
            {{ exceptions.raise_compiler_error(key ~ ": " ~ value ~ " is not true or false") }}
        {%- endif -%}
        {{ return('true' if value else 'false') }}
    {%- elif kind == 'number' or (kind == 'any' and value is number) -%}
        {%- if value is not number or is_boolean or (value | string) in ['inf', '-inf', 'nan'] -%}
            {{ exceptions.raise_compiler_error(key ~ ": " ~ value ~ " is not a (finite) number") }}
        {%- endif -%}
        {{ return(value | string) }}
    {%- elif kind == 'date' -%}
        {%- set text = value | string if value is not none and value is not number and value is not mapping and (value is string or value is not iterable) else '' -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$', text) -%}
            {{ exceptions.raise_compiler_error(key ~ ": " ~ value ~ " is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)") }}
        {%- endif -%}
        {{ return("cast('" ~ text ~ "' as timestamp)") }}
    {%- elif value is string -%}
        {{ return("'" ~ value | replace("'", "''") ~ "'") }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(key ~ ": " ~ value ~ " is not " ~ ("text" if kind == 'text' else "a number, text or true/false")) }}
{%- endmacro %}
