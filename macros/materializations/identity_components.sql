{#- Materializes the identity graph's connected components: the model's SQL yields edges (node_a, node_b,
    node_a_type, node_b_type, cut_priority); the result is one row per node with its component_id.
    The loop runs only when the model is built (never on compile or docs generate).

    Limits (identifier_types.<type>.max_per_customer): components that break one are rebuilt from their
    strongest links up, one priority level at a time; at each level, the links of that level inside a
    component that would break a limit are cut. Every run is logged in identity_component_runs. -#}
{% materialization identity_components, default %}
    {%- set identity = cdp.identity_config() -%}
    {%- set started = modules.datetime.datetime.utcnow() -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set edges = cdp.cc_work_relation(target_relation, '__edges') -%}
    {%- set node_types = cdp.cc_work_relation(target_relation, '__node_types') -%}
    {%- set labels = cdp.cc_work_relation(target_relation, '__labels') -%}
    {%- set limits = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}
        {%- if rules.max_per_customer is not none -%}{%- do limits.update({name: rules.max_per_customer}) -%}{%- endif -%}
    {%- endfor -%}
    {%- set levels = identity.identifier_types.values() | map(attribute='priority') | unique | sort | list -%}

    {{ run_hooks(pre_hooks) }}

    {%- do run_query(cdp.cc_create_table(edges, sql)) -%}
    {%- do cdp.cc_analyze(edges) -%}
    {%- do run_query(cdp.cc_create_table(node_types,
        "select node_a as node, node_a_type as identifier_type from " ~ edges
        ~ " union select node_b, node_b_type from " ~ edges)) -%}
    {%- set rounds = cdp.connected_components(edges, labels, identity.max_rounds) -%}
    {%- set violating = cdp.cc_work_relation(target_relation, '__violating') -%}
    {%- do run_query(cdp.cc_create_table(violating, cdp.identity_limit_violations(labels, node_types, limits))) -%}
    {%- set violating_count = run_query("select count(*) from " ~ violating).columns[0].values()[0] -%}
    {%- set state = {'rejected': 0, 'max_rounds_used': rounds} -%}

    {%- if violating_count > 0 -%}
        {%- set sub_edges = cdp.cc_work_relation(target_relation, '__sub_edges') -%}
        {%- set rejected = cdp.cc_work_relation(target_relation, '__rejected') -%}
        {%- set accepted = cdp.cc_work_relation(target_relation, '__accepted') -%}
        {%- set sub_labels = cdp.cc_work_relation(target_relation, '__sub_labels') -%}
        {%- set sub_violating = cdp.cc_work_relation(target_relation, '__sub_violating') -%}
        {%- do run_query(cdp.cc_create_table(sub_edges,
            "select edge.* from " ~ edges ~ " as edge inner join " ~ labels ~ " as label on label.node = edge.node_a"
            ~ " where label.label in (select label from " ~ violating ~ ")")) -%}
        {%- do run_query(cdp.cc_create_table(rejected, "select node_a, node_b from " ~ sub_edges ~ " where 1 = 0")) -%}
        {%- for level in levels + ['final'] -%}
            {%- set level_filter = "" if level == 'final' else " and edge.cut_priority <= " ~ level -%}
            {%- do run_query(cdp.cc_create_table(accepted,
                "select edge.* from " ~ sub_edges ~ " as edge where not exists (select 1 from " ~ rejected
                ~ " as cut where cut.node_a = edge.node_a and cut.node_b = edge.node_b)" ~ level_filter)) -%}
            {%- set level_rounds = cdp.connected_components(accepted, sub_labels, identity.max_rounds) -%}
            {%- if level_rounds > state.max_rounds_used -%}{%- do state.update({'max_rounds_used': level_rounds}) -%}{%- endif -%}
            {%- if level != 'final' -%}
                {%- do run_query(cdp.cc_create_table(sub_violating, cdp.identity_limit_violations(sub_labels, node_types, limits))) -%}
                {%- do run_query("insert into " ~ rejected ~ " (node_a, node_b) select edge.node_a, edge.node_b from " ~ accepted
                    ~ " as edge inner join " ~ sub_labels ~ " as label on label.node = edge.node_a"
                    ~ " where edge.cut_priority = " ~ level ~ " and label.label in (select label from " ~ sub_violating ~ ")") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do state.update({'rejected': run_query("select count(*) from " ~ rejected).columns[0].values()[0]}) -%}
        {#- Nodes of rebuilt components take their new labels; a node left without links keeps itself. -#}
        {%- do run_query(cdp.cc_create_table(accepted,
            "select label.node, coalesce(sub_label.label, case when label.label in (select label from " ~ violating
            ~ ") then label.node else label.label end) as label from " ~ labels ~ " as label left join " ~ sub_labels
            ~ " as sub_label on sub_label.node = label.node")) -%}
        {%- do cdp.cc_replace(accepted, labels) -%}
        {%- for relation in [sub_edges, rejected, sub_labels, sub_violating] -%}{%- do adapter.drop_relation(relation) -%}{%- endfor -%}
    {%- endif -%}

    {% call statement('main') -%}
        drop table if exists {{ target_relation }};
        create table {{ target_relation }} as
        select
            cast(node as {{ dbt.type_bigint() }}) as node_id,
            cast(label as {{ dbt.type_bigint() }}) as component_id
        from {{ labels }}
    {%- endcall %}

    {%- set runs = target_relation.incorporate(path={'identifier': 'identity_component_runs'}) -%}
    {%- set counts = run_query("select (select count(*) from " ~ edges ~ "), (select count(*) from " ~ node_types ~ "), (select count(distinct component_id) from " ~ target_relation ~ ")").rows[0] -%}
    {%- set seconds = (modules.datetime.datetime.utcnow() - started).total_seconds() -%}
    {%- do run_query("create table if not exists " ~ runs ~ " (run_started_at " ~ dbt.type_timestamp() ~ ", edges " ~ dbt.type_bigint()
        ~ ", nodes " ~ dbt.type_bigint() ~ ", components " ~ dbt.type_bigint() ~ ", rounds integer, limit_violations integer, cut_edges "
        ~ dbt.type_bigint() ~ ", seconds " ~ cdp.type_double() ~ ")") -%}
    {%- do run_query("insert into " ~ runs ~ " values (cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ dbt.type_timestamp() ~ "), "
        ~ counts[0] ~ ", " ~ counts[1] ~ ", " ~ counts[2] ~ ", " ~ state.max_rounds_used ~ ", " ~ violating_count ~ ", " ~ state.rejected ~ ", " ~ seconds ~ ")") -%}
    {%- for relation in [edges, node_types, labels, violating] -%}{%- do adapter.drop_relation(relation) -%}{%- endfor -%}

    {{ run_hooks(post_hooks) }}
    {%- do adapter.commit() -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
