{#- Every identifier whose validated rows, exclusion, node row or connected component this build may have
    changed, including identifiers that left the graph: the values of the changed records
    (int_identity_value_changes) and the nodes whose component rows were written or deleted
    (identity_component_changes). A full build lists every identifier, now and in the previous identity_graph;
    a first build (no identity_graph and no identity_excluded_identifiers yet) and --full-refresh none, as
    nothing reads them then (int_customer_ids_scope takes every identifier, identity_excluded_identifiers is
    created again). -#}
-- depends_on: {{ ref('int_identity_value_changes') }} {{ ref('int_identity_node_ids') }} {{ ref('int_identifiers_validated') }} {{ ref('int_identity_record_changes') }}
-- depends_on: {{ ref('int_identity_components') }}
{%- set previous_graph = cdp.previous_identity_graph() -%}
{%- set component_changes = cdp.existing_relation('intermediate', 'identity_component_changes') -%}
{%- set unread = flags.FULL_REFRESH or (previous_graph is none and cdp.existing_relation('identity', 'identity_excluded_identifiers') is none) -%}

{%- if cdp.identity_build_mode() == 'incremental' and component_changes is not none %}
select identifier_type, identifier_value from {{ ref('int_identity_value_changes') }}
union
-- Empty values (no node, but counted in identity_excluded_identifiers).
select distinct identifier_type, identifier_value
from {{ ref('int_identity_record_changes') }}
where change in ('old', 'new') and identifier_value is null
union
select node_ids.identifier_type, node_ids.identifier_value
from {{ component_changes }} as changed
inner join {{ ref('int_identity_node_ids') }} as node_ids on node_ids.node_id = changed.node_id
{%- elif unread %}
select
    cast(null as {{ dbt.type_string() }}) as identifier_type,
    cast(null as {{ dbt.type_string() }}) as identifier_value
where 1 = 0
{%- else %}
select identifier_type, identifier_value
from {{ ref('int_identifiers_validated') }}
union
{%- if previous_graph %}
select identifier_type, identifier_value from {{ previous_graph }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as identifier_type,
    cast(null as {{ dbt.type_string() }}) as identifier_value
where 1 = 0
{%- endif %}
{%- endif %}
