{#- Pre-hook of the incremental identity models: on an incremental run, delete the rows of this model whose
    key is in keys_relation (the identifiers or records the build computes again), before the new rows are
    inserted. A nullable_column (an 'empty' exclusion has a null identifier_value) also matches null to null,
    in a statement of its own, so both statements stay hash joins. Nothing on a full build: the table is
    created again. -#}
{% macro delete_changed_keys(keys_relation, columns, nullable_column=none) -%}
    {{ return(adapter.dispatch('delete_changed_keys', 'cdp')(keys_relation, columns, nullable_column)) }}
{%- endmacro %}

{#- Both deletes go through delete_where, which rewrites the table where there is no DELETE (plain Spark tables). -#}
{% macro default__delete_changed_keys(keys_relation, columns, nullable_column) -%}
    {%- if is_incremental() -%}
        {%- set equal = [] -%}
        {%- for column in columns -%}
            {%- do equal.append('changed_key.' ~ column ~ ' = target_row.' ~ column) -%}
        {%- endfor -%}
        {{ cdp.delete_where(this, 'exists (select 1 from ' ~ keys_relation ~ ' as changed_key where ' ~ equal | join(' and ') ~ ')') }}
        {%- if nullable_column -%}
            {%- set null_equal = [] -%}
            {%- for column in columns if column != nullable_column -%}
                {%- do null_equal.append('changed_key.' ~ column ~ ' = target_row.' ~ column) -%}
            {%- endfor -%}
            {%- do null_equal.append('changed_key.' ~ nullable_column ~ ' is null') -%}
        ;
        {{ cdp.delete_where(this, 'target_row.' ~ nullable_column ~ ' is null and exists (select 1 from ' ~ keys_relation ~ ' as changed_key where ' ~ null_equal | join(' and ') ~ ')') }}
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
