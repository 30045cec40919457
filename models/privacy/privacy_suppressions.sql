{{ config(materialized='incremental', full_refresh=false, unique_key=['identifier_type', 'identifier_value'], on_schema_change='append_new_columns') }}

-- Every identifier of a customer who asked to be forgotten. Kept across --full-refresh, so a replay of their
-- old events (or a late one) is suppressed again, whatever customer_id the identity graph gives it.
with

deletion_requests as (

    select
        privacy_request_id,
        requested_at
    from {{ ref('stg_privacy__requests') }}
    where request_type = 'deletion'

),

requesting_customers as (

    select
        deletion_requests.privacy_request_id,
        deletion_requests.requested_at,
        records.customer_id
    from deletion_requests
    inner join {{ ref('identity_records') }} as records
        on
            records.source_table = 'stg_privacy__requests'
            and deletion_requests.privacy_request_id = records.record_id

),

identifiers as (

    select
        graph.identifier_type,
        graph.identifier_value,
        min(requesting_customers.privacy_request_id) as privacy_request_id,
        min(requesting_customers.requested_at) as requested_at
    from requesting_customers
    inner join {{ ref('identity_graph') }} as graph on requesting_customers.customer_id = graph.customer_id
    group by graph.identifier_type, graph.identifier_value

)

select
    cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
    cast(identifier_value as {{ dbt.type_string() }}) as identifier_value,
    cast(privacy_request_id as {{ dbt.type_string() }}) as privacy_request_id,
    cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as suppressed_at
from identifiers
{% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as already
        where already.identifier_type = identifiers.identifier_type and already.identifier_value = identifiers.identifier_value
    )
{% endif %}
