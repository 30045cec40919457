{#- True when this build ranked records again without changing them (a value of theirs became or stopped being
    a hub): int_identity_changed_records holds records that int_identity_record_changes does not. Their
    identifier rows are then read from every validated row, which most builds do not need. -#}
{% macro identity_records_ranked_again_only() -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set found = run_query(
        "select count(*) from " ~ ref('int_identity_changed_records') ~ " as changed where not exists (select 1 from "
        ~ ref('int_identity_record_changes') ~ " as record_changes where record_changes.source_table = changed.source_table"
        ~ " and record_changes.record_id = changed.record_id)"
    ).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}
