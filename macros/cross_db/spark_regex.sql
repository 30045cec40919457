{#- A regular expression written for DuckDB and PostgreSQL (POSIX classes such as [:space:]) as a Spark SQL
    expression: Java regexes have no POSIX bracket classes, and Spark string literals treat a backslash as an
    escape, so every backslash is doubled first. -#}
{% macro spark_regex(pattern) -%}
    {{ return(pattern
        | replace('\\', '\\\\')
        | replace('[:space:]', '\\\\s')
        | replace('[:punct:]', '\\\\p{Punct}')
        | replace('[:alnum:]', '\\\\p{Alnum}')
        | replace('[:alpha:]', '\\\\p{Alpha}')
        | replace('[:digit:]', '\\\\d')
        | replace('[:upper:]', '\\\\p{Upper}')
        | replace('[:lower:]', '\\\\p{Lower}')) }}
{%- endmacro %}
