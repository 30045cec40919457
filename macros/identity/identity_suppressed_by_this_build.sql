{#- True when this build suppressed identifiers (rows of privacy_suppressions stamped with this run's start).
    The models that mark them read the validated rows for them only then: most builds suppress nothing, and
    that read is a pass over every identifier row. -#}
{% macro identity_suppressed_by_this_build() -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set suppressions = ref('privacy_suppressions') -%}
    {%- set run_at = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
    {%- set found = run_query("select count(*) from " ~ suppressions ~ " where suppressed_at = " ~ run_at).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}
