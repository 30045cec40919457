{#- True when this build suppressed identifiers (rows of privacy_suppressions stamped with this run's start).
    The models that mark them read the validated rows for them only then: most builds suppress nothing, and
    that read is a pass over every identifier row. -#}
{% macro identity_suppressed_by_this_build() -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set suppressions = ref('privacy_suppressions') -%}
    {%- set run_at = cdp.run_started_at_timestamp() -%}
    {%- set found = run_query("select count(*) from " ~ suppressions ~ " where suppressed_at = " ~ run_at).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}

{#- From, join and filter of the usable validated rows (alias validated) carrying an identifier this build
    suppressed, each with its suppression (alias suppressions); no rows when the build suppressed nothing
    (identity_suppressed_by_this_build), so the pass over every identifier row is then skipped. -#}
{% macro identity_rows_suppressed_by_this_build() -%}
    from {{ ref('int_identifiers_validated') }} as validated
    inner join {{ ref('privacy_suppressions') }} as suppressions
        on validated.identifier_type = suppressions.identifier_type and validated.identifier_value = suppressions.identifier_value
    where
        validated.exclusion_reason is null
        and suppressions.suppressed_at = {{ cdp.run_started_at_timestamp() }}
        and {{ '1 = 1' if cdp.identity_suppressed_by_this_build() else '1 = 0' }}
{%- endmacro %}
