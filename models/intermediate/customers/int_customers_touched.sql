-- depends_on: {{ ref('int_identity_record_changes') }} {{ ref('int_customer_ids_scope') }} {{ ref('int_identity_changed_records') }}
-- depends_on: {{ ref('identity_graph') }} {{ ref('identity_records') }} {{ ref('suppressed_customers') }}
{#- The customers an incremental build touches (docs/customer_360.md, "Incremental builds"), the change set of the
    incremental marts. `touched_by`:
    - 'identity': customers whose records or identifiers this build may have moved: the previous and the current
      customer of every identifier resolved again (int_customer_ids_scope: merges, splits, new and moved
      identifiers, suppressed ones), the current customer of every changed record and the customer a record
      with no usable identifier has of its own, and every suppressed (forgotten) customer;
    - 'content': the customers of the records of every identity source written since the previous build's
      high-water mark (new rows, and rows updated in place whose identifiers did not change).
    A superset is always correct. Empty when the identity layer does not run incrementally (every incremental
    mart then recomputes every row): the condition `applies` is then false and nothing is read. -#}
{%- set identity = cdp.identity_config() -%}
{%- for source in identity.sources %}
-- depends_on: {{ ref(source.model) }}
{%- endfor %}

{%- set applies = '1 = 1' if cdp.identity_build_mode() == 'incremental' else '1 = 0' %}

with

scope as (

    select identifier_type, identifier_value, previous_customer_id
    from {{ ref('int_customer_ids_scope') }}

),

changed_records as (

    select source_table, record_id
    from {{ ref('int_identity_changed_records') }}

),

identity_touched as (

    select previous_customer_id as customer_id from scope where previous_customer_id is not null
    union
    select graph.customer_id
    from scope
    inner join {{ ref('identity_graph') }} as graph
        on scope.identifier_type = graph.identifier_type and scope.identifier_value = graph.identifier_value
    union
    select records.customer_id
    from changed_records
    inner join {{ ref('identity_records') }} as records
        on changed_records.source_table = records.source_table and changed_records.record_id = records.record_id
    union
    select {{ cdp.mint_customer_id(dbt.concat(["'record:'", 'changed_records.source_table', "':'", 'changed_records.record_id'])) }}
    from changed_records
    union
    select customer_id from {{ ref('suppressed_customers') }}

),

content_records as (

    {%- for source in identity.sources %}
    select
        '{{ source.model }}' as source_table,
        cast({{ source.record_id }} as {{ dbt.type_string() }}) as record_id
    from {{ ref(source.model) }}
    {%- if source.changed_at %}
    where {{ cdp.changed_since_previous_build(source.model, source.changed_at) }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

content_touched as (

    select distinct records.customer_id
    from content_records
    inner join {{ ref('identity_records') }} as records
        on content_records.source_table = records.source_table and content_records.record_id = records.record_id

)

select
    customer_id,
    'identity' as touched_by
from identity_touched
where {{ applies }}
union all
select
    customer_id,
    'content' as touched_by
from content_touched
where {{ applies }}
