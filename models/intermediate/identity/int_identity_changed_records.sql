{#- Every record whose identifier rows or ranked identifiers (anchor) this build may have changed, including
    records that left their source: the changed records (int_identity_record_changes) and the records ranked
    again (int_identity_anchor_changes). A full build lists every record, now and in the previous
    identity_records; a first build (no identity_records yet) none, as nothing reads them. -#}
-- depends_on: {{ ref('int_identity_record_changes') }} {{ ref('int_identity_anchor_changes') }} {{ ref('int_identifiers_validated') }}
{%- set previous_records = cdp.existing_relation('identity', 'identity_records') -%}

{%- if cdp.identity_build_mode() == 'incremental' %}
select source_table, record_id from {{ ref('int_identity_record_changes') }} where change in ('old', 'new')
union
select source_table, record_id from {{ ref('int_identity_anchor_changes') }}
{%- elif previous_records %}
select source_table, record_id from {{ ref('int_identifiers_validated') }}
union
select source_table, record_id from {{ previous_records }}
{%- else %}
-- A first build (no identity_records yet): nothing to delete, and identity_records reads every record itself.
select
    cast(null as {{ dbt.type_string() }}) as source_table,
    cast(null as {{ dbt.type_string() }}) as record_id
where 1 = 0
{%- endif %}
