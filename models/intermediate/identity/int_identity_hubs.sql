{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ cdp.identity_delete_changed(ref('int_identity_value_changes'), ['identifier_type', 'identifier_value']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
{#- Identifier values seen with more distinct other identifiers than their type's max_linked_identifiers:
    placeholders that slipped past the blocklists (a shared test card, a broken cookie). They are excluded
    from the graph and reported with their size, a sample and the reason. Measured by
    int_identity_value_changes: every value in a full build, the values a build touches in an incremental one. -#}

select
    identifier_type,
    identifier_value,
    linked_identifiers,
    linked_records,
    sample_linked_identifier,
    max_linked_identifiers
from {{ ref('int_identity_value_changes') }}
where is_hub
