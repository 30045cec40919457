{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ cdp.identity_delete_changed(ref('int_identity_record_changes'), ['source_table', 'record_id']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
{#- Identifier values normalized per type, each with the reason it is excluded (null when it is usable), and
    the privacy request suppressing its record (see identity_validate). Incremental: the records this build
    changes (int_identity_record_changes) are deleted and written again. A full build validates every row
    here (int_identity_record_changes holds none then), so a first build writes them once. -#}

{%- if cdp.identity_applies_changes() %}
select
    source_table,
    record_id,
    identifier_type,
    identifier_value_raw,
    observed_at,
    identifier_value,
    exclusion_reason,
    suppressing_request_id,
    changed_at
from {{ ref('int_identity_record_changes') }}
where change = 'new'
{%- else %}
-- depends_on: {{ ref('int_identity_record_changes') }}
with

read_rows as (

    select * from {{ ref('int_identifiers_unioned') }}

),

validated as (
{{ cdp.identity_validate('read_rows', cdp.identity_with_blocklist_seed(cdp.identity_config())) }}

)

select
    source_table,
    record_id,
    identifier_type,
    identifier_value_raw,
    observed_at,
    identifier_value,
    exclusion_reason,
    suppressing_request_id,
    changed_at
from validated
{%- endif %}
