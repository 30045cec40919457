{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    incremental_strategy='delete+insert',
    unique_key=['source_table', 'record_id'],
    pre_hook="{{ cdp.delete_changed_keys(ref('int_identity_changed_records'), ['source_table', 'record_id']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
-- depends_on: {{ ref('int_identity_changed_records') }} {{ ref('int_customer_ids_scope') }} {{ ref('int_identity_record_changes') }}
{# The customer of every source record that carries an identifier: the customer of its anchor (its
    strongest usable identifier). A record whose identifiers are all excluded is a customer of its own. A
    record carrying a suppressed identifier (privacy_suppressions) belongs to the forgotten customer id,
    unresolved: it links nobody, and every mart leaves it out (suppressed_customers). -#}
{#- Incremental: the changed records (int_identity_changed_records: deleted ones are deleted by the pre-hook and
    not written back), the records of every customer id whose identifiers moved or left the graph, and the
    records carrying an identifier suppressed by this build are assigned again (delete+insert). The identifier
    rows of the changed records come from int_identity_record_changes, not from a pass over every validated
    row. A full build on an existing table assigns every record from int_identifiers_validated, as a first
    build does (the pre-hook has deleted every record then: each is listed as changed). -#}
with

{%- if cdp.identity_applies_changes() %}

    -- The previous ids of the identifiers resolved again that no longer hold all of them (moved, gone or suppressed).
    changed_customers as (

        select distinct scope.previous_customer_id as customer_id
        from {{ ref('int_customer_ids_scope') }} as scope
        left join {{ ref('identity_graph') }} as graph
            on scope.identifier_type = graph.identifier_type and scope.identifier_value = graph.identifier_value
        where scope.previous_customer_id is not null and (graph.customer_id is null or graph.customer_id <> scope.previous_customer_id)

    ),

    -- Their records this build did not change: each still exists, and none carries a suppressed identifier (such
    -- a record belongs to a retired id, never a customer of the scope), so their identifier rows are not read.
    customer_records as (

        select
            held.source_table,
            held.record_id
        from {{ this }} as held
        where
            held.customer_id in (select customer_id from changed_customers)
            and not exists (
                select 1 from {{ ref('int_identity_changed_records') }} as changed
                where changed.source_table = held.source_table and changed.record_id = held.record_id
            )

    ),

    -- The identifier rows of the changed records as this build validated them (a deleted record has none and is
    -- not written back), of the records only ranked again (a value of theirs became or stopped being a hub) as
    -- held, and of the records carrying an identifier this build suppressed (int_identifiers_validated marks
    -- them from the next build on). The last two are read from every validated row, so only when there are any.
    record_rows as (

        select
            source_table,
            record_id,
            identifier_type,
            identifier_value
        from {{ ref('int_identity_record_changes') }}
        where change = 'new'
        union all
        select
            validated.source_table,
            validated.record_id,
            validated.identifier_type,
            validated.identifier_value
        from {{ ref('int_identifiers_validated') }} as validated
        inner join {{ ref('int_identity_changed_records') }} as changed
            on validated.source_table = changed.source_table and validated.record_id = changed.record_id
        where
            not exists (
                select 1 from {{ ref('int_identity_record_changes') }} as record_changes
                where record_changes.source_table = changed.source_table and record_changes.record_id = changed.record_id
            )
            and {{ '1 = 1' if cdp.identity_records_ranked_again_only() else '1 = 0' }}
        union all
        select
            validated.source_table,
            validated.record_id,
            validated.identifier_type,
            validated.identifier_value
        {{ cdp.identity_rows_suppressed_by_this_build() }}

    ),

    records as (

        select
            source_table,
            record_id
        from record_rows
        union
        select
            source_table,
            record_id
        from customer_records

    ),

{%- else %}

    records as (

        select distinct
            source_table,
            record_id
        from {{ ref('int_identifiers_validated') }}

    ),

{%- endif %}

anchors as (

    -- The anchors carry their node's type and value.
    select
        anchors.source_table,
        anchors.record_id,
        anchors.identifier_type,
        anchors.identifier_value
    from {{ ref('int_identity_record_anchors') }} as anchors
    {% if cdp.identity_applies_changes() %}
        inner join records on anchors.source_table = records.source_table and anchors.record_id = records.record_id
    {%- endif %}
    where anchors.rank_in_record = 1

),

graph as (

    select * from {{ ref('identity_graph') }}

),

suppressed_records as (

    select
        validated.source_table,
        validated.record_id,
        -- Suppressions recorded before privacy_suppressions had a customer_id get one id per request.
        min(coalesce(
            suppressions.customer_id,
            {{ cdp.mint_customer_id(dbt.concat(["'suppressed:'", 'suppressions.privacy_request_id'])) }}
        )) as customer_id
    from {% if cdp.identity_applies_changes() %}record_rows{% else %}{{ ref('int_identifiers_validated') }}{% endif %} as validated
    inner join {{ ref('privacy_suppressions') }} as suppressions
        on validated.identifier_type = suppressions.identifier_type and validated.identifier_value = suppressions.identifier_value
    group by validated.source_table, validated.record_id

),

assigned as (

    select
        records.source_table,
        records.record_id,
        coalesce(
            suppressed_records.customer_id,
            graph.customer_id,
            {{ cdp.mint_customer_id(dbt.concat(["'record:'", 'records.source_table', "':'", 'records.record_id'])) }}
        ) as customer_id,
        case when suppressed_records.record_id is null then anchors.identifier_type end as matched_on_identifier_type,
        graph.customer_id is not null and suppressed_records.record_id is null as is_resolved
    from records
    left join anchors on records.source_table = anchors.source_table and records.record_id = anchors.record_id
    left join graph
        on anchors.identifier_type = graph.identifier_type and anchors.identifier_value = graph.identifier_value
    left join suppressed_records
        on records.source_table = suppressed_records.source_table and records.record_id = suppressed_records.record_id

)

select * from assigned
