{#- What an incremental build of privacy_suppressions has to read. A request takes effect in the build that
    first ranks its record (a request whose record has no usable identifier yet waits for one), and later
    builds exclude its identifiers, so the requests, the components and the previous graph are read only
    when a request record is among the records this build ranked again (int_identity_changed_records lists
    every record in a full build). -#}
{% macro privacy_requests_to_apply() -%}
    {%- if not execute or not is_incremental() -%}{{ return(true) }}{%- endif -%}
    {%- set changed = run_query(
        "select count(*) from " ~ ref('int_identity_changed_records') ~ " where source_table = 'stg_privacy__requests'"
    ).columns[0].values()[0] -%}
    {{ return(changed > 0) }}
{%- endmacro %}

{#- Suppressions recorded before privacy_suppressions had a customer_id are given one from the previous graph,
    once; the previous graph is read for them only while such rows exist. -#}
{% macro privacy_rows_to_backfill() -%}
    {%- if not execute or not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {%- set missing = run_query("select count(*) from " ~ this ~ " where customer_id is null").columns[0].values()[0] -%}
    {{ return(missing > 0) }}
{%- endmacro %}
