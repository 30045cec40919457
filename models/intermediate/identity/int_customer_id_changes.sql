{#- What this run did to customer ids: mint (new, possibly split from an old id), survive (kept while
    absorbing other ids) and retire (merged into another id, or gone with all its identifiers; gone because
    the customer asked to be forgotten when privacy_request_id is set).
    Only the identifiers resolved again (int_customer_ids_scope, every identifier on a full build) are read:
    every identifier that had one of their previous ids is among them, so an id is new when none of them had
    it, and retires when none of them keeps it. -#}
{%- set run_at = cdp.run_started_at_timestamp() -%}

with

scope as (

    select * from {{ ref('int_customer_ids_scope') }}

),

resolved as (

    select
        resolved.identifier_type,
        resolved.identifier_value,
        resolved.customer_id,
        scope.previous_customer_id
    from {{ ref('int_customer_ids_resolved') }} as resolved
    inner join scope
        on scope.identifier_type = resolved.identifier_type and scope.identifier_value = resolved.identifier_value

),

previous_ids as (

    select distinct previous_customer_id as customer_id
    from scope
    where previous_customer_id is not null

),

forgotten_ids as (

    select
        customer_id,
        min(privacy_request_id) as privacy_request_id
    from {{ ref('privacy_suppressions') }}
    where customer_id is not null
    group by customer_id

),

current_ids as (

    select distinct customer_id from resolved

),

-- Where the identifiers of each old id went now, the destination holding most of them first.
destinations as (

    select
        previous_customer_id,
        customer_id,
        count(*) as identifiers,
        row_number() over (partition by previous_customer_id order by count(*) desc, customer_id) as destination_rank
    from resolved
    where previous_customer_id is not null
    group by previous_customer_id, customer_id

),

minted as (

    select
        current_ids.customer_id,
        'mint' as change_type,
        split_from.previous_customer_id as related_customer_id,
        cast(null as {{ dbt.type_string() }}) as privacy_request_id
    from current_ids
    left join previous_ids on previous_ids.customer_id = current_ids.customer_id
    left join destinations as split_from
        on split_from.customer_id = current_ids.customer_id and split_from.destination_rank > 1
    where previous_ids.customer_id is null

),

retired as (

    select
        previous_ids.customer_id,
        'retire' as change_type,
        destinations.customer_id as related_customer_id,
        forgotten_ids.privacy_request_id
    from previous_ids
    left join current_ids on current_ids.customer_id = previous_ids.customer_id
    left join destinations
        on destinations.previous_customer_id = previous_ids.customer_id and destinations.destination_rank = 1
    left join forgotten_ids on forgotten_ids.customer_id = previous_ids.customer_id
    where current_ids.customer_id is null

),

survived as (

    select
        related_customer_id as customer_id,
        'survive' as change_type,
        customer_id as related_customer_id,
        cast(null as {{ dbt.type_string() }}) as privacy_request_id
    from retired
    where related_customer_id is not null

),

changes as (

    select * from minted
    union all
    select * from retired
    union all
    select * from survived

)

select
    customer_id,
    change_type,
    related_customer_id,
    {{ run_at }} as changed_at,
    '{{ invocation_id }}' as invocation_id,
    privacy_request_id
from changes
