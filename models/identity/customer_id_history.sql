{{ config(materialized='incremental', full_refresh=false, on_schema_change='fail') }}

-- Append-only log of customer id changes; kept across --full-refresh so downstream tools can replay merges.
select
    customer_id,
    change_type,
    related_customer_id,
    changed_at,
    invocation_id
from {{ ref('int_customer_id_changes') }}
