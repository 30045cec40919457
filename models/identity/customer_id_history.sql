{{ config(materialized='incremental', full_refresh=false, on_schema_change='append_new_columns', post_hook="{{ cdp.identity_step_done() }}") }}

-- Append-only log of customer id changes; kept across --full-refresh so downstream tools can replay merges.
select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(change_type as {{ dbt.type_string() }}) as change_type,
    cast(related_customer_id as {{ dbt.type_string() }}) as related_customer_id,
    cast(changed_at as {{ dbt.type_timestamp() }}) as changed_at,
    cast(invocation_id as {{ dbt.type_string() }}) as invocation_id,
    cast(privacy_request_id as {{ dbt.type_string() }}) as privacy_request_id
from {{ ref('int_customer_id_changes') }}
