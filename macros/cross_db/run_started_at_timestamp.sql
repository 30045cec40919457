{#- This run's start as a timestamp literal: what a run stamps on the rows it writes (suppressed_at,
    applied_at, registered_at...) and how it finds them again in the same run. -#}
{% macro run_started_at_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
