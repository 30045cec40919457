{#- The delete+insert incremental strategy on Spark. Plain Spark tables (parquet, no Delta or Iceberg) have no
    DELETE or MERGE, and dbt-spark accepts only append, merge, insert_overwrite and microbatch; these two
    overrides of dbt-spark's macros add delete+insert as a rewrite of the table: the new rows, plus the old
    rows whose key is not among them, are written to a new table that then replaces the old one. Every
    incremental run of such a model rewrites its whole table on Spark (docs/scale_out.md). -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch', 'delete+insert'] -%}
        {%- do exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy
            ~ "; expected one of append, merge, insert_overwrite, microbatch, delete+insert") -%}
    {%- endif -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {%- do exceptions.raise_compiler_error("Invalid incremental strategy provided: merge needs file_format delta, iceberg or hudi") -%}
    {%- endif -%}
    {%- if raw_strategy in ['insert_overwrite', 'microbatch'] and target.endpoint -%}
        {%- do exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy ~ " cannot be used through an endpoint") -%}
    {%- endif -%}
    {%- do return(raw_strategy) -%}
{% endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy == 'delete+insert' -%}
        {{ cdp.spark_rewrite_delete_insert(source, target, unique_key) }}
    {%- elif strategy == 'append' -%}
        {{ get_insert_into_sql(source, target) }}
    {%- elif strategy in ['insert_overwrite', 'microbatch'] -%}
        {{ get_insert_overwrite_sql(source, target, existing) }}
    {%- elif strategy == 'merge' -%}
        {{ get_merge_sql(target, source, unique_key, dest_columns=none, incremental_predicates=incremental_predicates) }}
    {%- else -%}
        {%- do exceptions.raise_compiler_error("No known SQL for the incremental strategy provided: " ~ strategy) -%}
    {%- endif -%}
{% endmacro %}

{#- Statements replacing `target` by the rows of `source` plus the rows of `target` whose unique_key is not in
    `source` (the semantics of delete+insert), through a new table swapped in at the end. -#}
{% macro spark_rewrite_delete_insert(source, target, unique_key) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set equal = [] -%}
    {%- for key in keys -%}
        {%- do equal.append('new_row.' ~ key ~ ' = old_row.' ~ key) -%}
    {%- endfor -%}
    {%- set rewritten = target.incorporate(path={'identifier': target.identifier ~ '__rewrite'}) -%}
    drop table if exists {{ rewritten }};
    create table {{ rewritten }} using parquet as
    select {{ columns }} from {{ source }}
    union all
    select {{ columns }} from {{ target }} as old_row
    where not exists (select 1 from {{ source }} as new_row where {{ equal | join(' and ') }});
    drop table {{ target }};
    alter table {{ rewritten }} rename to {{ target }}
{%- endmacro %}
