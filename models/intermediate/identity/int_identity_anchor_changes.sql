{#- The records whose ranked identifiers this build may change: the changed records, and the records
    carrying a value that became or stopped being a hub. Rows: change = 'old' (held in
    int_identity_record_anchors so far) and 'new' (ranked now). Empty in a full build. -#}
{%- set previous_anchors = cdp.existing_relation('intermediate', 'int_identity_record_anchors') -%}
{%- set incremental = cdp.identity_build_mode() == 'incremental' and previous_anchors is not none -%}
{%- set hub_flips = incremental and run_query("select count(*) from " ~ ref('int_identity_value_changes') ~ " where is_hub <> was_hub").columns[0].values()[0] > 0 -%}

with

affected as (

    select distinct source_table, record_id
    from {{ ref('int_identity_record_changes') }}
    where change in ('old', 'new'){% if not incremental %} and 1 = 0{% endif %}
    union
    select validated.source_table, validated.record_id
    from {{ ref('int_identifiers_validated') }} as validated
    inner join {{ ref('int_identity_value_changes') }} as flipped
        on flipped.identifier_type = validated.identifier_type and flipped.identifier_value = validated.identifier_value
    where flipped.is_hub <> flipped.was_hub{% if not hub_flips %} and 1 = 0{% endif %}

),

ranked as (
{{ cdp.identity_ranked_anchors('affected') }}

)

{%- set columns = 'source_table, record_id, node_id, identifier_type, identifier_value, priority, rank_in_record' %}

select 'new' as change, {{ columns }} from ranked
{%- if incremental %}
union all
select 'old' as change, {{ columns | replace('source_table', 'held.source_table') | replace('record_id', 'held.record_id') }}
from {{ previous_anchors }} as held
inner join affected on affected.source_table = held.source_table and affected.record_id = held.record_id
{%- endif %}
