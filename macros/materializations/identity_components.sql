{#- Materializes the identity graph's connected components: the model's SQL yields edges (node_a, node_b,
    node_a_type, node_b_type, cut_priority); the result is one row per linked node with its component_id (the
    smallest node id of its customer), its cluster_id (the smallest node id of its connected component
    before any limit cut) and component_links (the links inside its component). The loop runs only when the
    model is built (never on compile or docs generate).

    Limits (identifier_types.<type>.max_per_customer): clusters that break one are rebuilt from their
    strongest links up, one priority level at a time; at each level, the links of that level inside a
    component that would break a limit are cut. Every run is logged in identity_component_runs.

    Incremental (the table exists, same limit rules, same node registry, no --full-refresh): node ids are
    stable (int_identity_node_ids), so the links of this build are compared by id with the links the
    previous build solved (kept in identity_component_links). Every cluster that lost or gained a link is
    solved again, together with the identifiers the new links bring, from all of its current links; its
    rows are deleted and written again, and nothing else is read or written. A new link that bridges two
    clusters therefore relabels every member of both, and a link replaced inside a customer is noticed. Each
    cluster is solved and cut on its own in a full build too, so the result equals a full rebuild. -#}
{% materialization identity_components, default %}
    {%- set identity = cdp.identity_config() -%}
    {%- set started = modules.datetime.datetime.utcnow() -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set edges = cdp.cc_work_relation(target_relation, '__edges') -%}
    {%- set node_types = cdp.cc_work_relation(target_relation, '__node_types') -%}
    {%- set clusters = cdp.cc_work_relation(target_relation, '__clusters') -%}
    {%- set cut_labels = cdp.cc_work_relation(target_relation, '__cut_labels') -%}
    {%- set delta = cdp.cc_work_relation(target_relation, '__delta') -%}
    {%- set scope = cdp.cc_work_relation(target_relation, '__scope') -%}
    {%- set limits = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}
        {%- if rules.max_per_customer is not none -%}{%- do limits.update({name: rules.max_per_customer}) -%}{%- endif -%}
    {%- endfor -%}
    {%- set levels = identity.identifier_types.values() | map(attribute='priority') | unique | sort | list -%}
    {%- set priorities = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}{%- do priorities.update({name: rules.priority}) -%}{%- endfor -%}
    {#- The rules that decide cuts; when they change, an incremental run would keep stale cuts, so it runs in full. -#}
    {%- set rules = tojson({'limits': limits, 'priorities': priorities}, sort_keys=true) -%}
    {%- set nodes_relation = ref(config.get('nodes')) -%}
    {%- set node_ids_relation = ref(config.get('node_ids')) -%}
    {%- set runs = target_relation.incorporate(path={'identifier': 'identity_component_runs'}) -%}
    {%- set links = target_relation.incorporate(path={'identifier': 'identity_component_links'}) -%}
    {%- set existing = load_relation(this) -%}
    {%- set current_links = "(\n" ~ sql ~ "\n) as current_link" -%}

    {{ run_hooks(pre_hooks) }}

    {%- do run_query("create table if not exists " ~ runs ~ " (run_started_at " ~ dbt.type_timestamp() ~ ", edges " ~ dbt.type_bigint()
        ~ ", nodes " ~ dbt.type_bigint() ~ ", components " ~ dbt.type_bigint() ~ ", rounds integer, limit_violations integer, cut_edges "
        ~ dbt.type_bigint() ~ ", seconds " ~ cdp.type_double() ~ "); alter table " ~ runs ~ " add column if not exists mode " ~ dbt.type_string()
        ~ "; alter table " ~ runs ~ " add column if not exists solved_edges " ~ dbt.type_bigint()
        ~ "; alter table " ~ runs ~ " add column if not exists rules " ~ dbt.type_string()
        ~ "; alter table " ~ runs ~ " add column if not exists node_registry " ~ dbt.type_string()) -%}
    {#- The registry's first registration time names it: a registry built again from scratch numbers the
        identifiers differently, and the previous components (by node id) no longer apply. -#}
    {%- set registry = run_query("select cast(min(registered_at) as " ~ dbt.type_string() ~ ") from " ~ node_ids_relation).columns[0].values()[0] | string -%}
    {%- set last_run = run_query("select rules, node_registry from " ~ runs ~ " where run_started_at = (select max(run_started_at) from " ~ runs ~ ")").rows -%}
    {%- set incremental = existing is not none and not should_full_refresh()
        and 'cluster_id' in (adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list)
        and load_relation(links) is not none
        and last_run | length == 1 and last_run[0][0] == rules and last_run[0][1] | string == registry -%}

    {%- if incremental -%}
        {#- The links gained and lost since the previous build, the clusters they touch, and the nodes to solve:
            every node of those clusters and every end of a new link. A current link with one end among them has
            the other end among them too. -#}
        {%- do run_query(cdp.cc_create_table(delta,
            "select node_a, node_b, 1 as is_added from (select node_a, node_b from " ~ current_links
            ~ " except select node_a, node_b from " ~ links ~ ") as added union all select node_a, node_b, 0 from (select node_a, node_b from "
            ~ links ~ " except select node_a, node_b from " ~ current_links ~ ") as removed") ~ cdp.cc_analyze_sql(delta) ~ "; "
            ~ cdp.cc_create_table(scope,
            "select node_id as node from " ~ existing ~ " where cluster_id in (select previous.cluster_id from " ~ existing ~ " as previous"
            ~ " inner join (select node_a as node from " ~ delta ~ " union select node_b from " ~ delta ~ ") as touched"
            ~ " on touched.node = previous.node_id) union select node_a from " ~ delta ~ " where is_added = 1"
            ~ " union select node_b from " ~ delta ~ " where is_added = 1") ~ cdp.cc_analyze_sql(scope) ~ "; "
            ~ cdp.cc_create_table(edges,
            "select current_link.* from " ~ current_links ~ " where current_link.node_a in (select node from " ~ scope ~ ")")) -%}
    {%- else -%}
        {%- do run_query(cdp.cc_create_table(edges, sql)) -%}
    {%- endif -%}
    {%- do cdp.cc_analyze(edges) -%}
    {%- do run_query(cdp.cc_create_table(node_types,
        "select node_a as node, node_a_type as identifier_type from " ~ edges
        ~ " union select node_b, node_b_type from " ~ edges) ~ cdp.cc_analyze_sql(node_types)) -%}
    {%- set rounds = cdp.connected_components(edges, clusters, identity.max_rounds) -%}
    {%- set labels = clusters -%}
    {%- set violating = cdp.cc_work_relation(target_relation, '__violating') -%}
    {%- do run_query(cdp.cc_create_table(violating, cdp.identity_limit_violations(clusters, node_types, limits))) -%}
    {%- set violating_count = run_query("select count(*) from " ~ violating).columns[0].values()[0] -%}
    {%- set state = {'rejected': 0, 'max_rounds_used': rounds} -%}

    {%- if violating_count > 0 -%}
        {%- set labels = cut_labels -%}
        {%- set sub_edges = cdp.cc_work_relation(target_relation, '__sub_edges') -%}
        {%- set rejected = cdp.cc_work_relation(target_relation, '__rejected') -%}
        {%- set accepted = cdp.cc_work_relation(target_relation, '__accepted') -%}
        {%- set sub_labels = cdp.cc_work_relation(target_relation, '__sub_labels') -%}
        {%- set sub_violating = cdp.cc_work_relation(target_relation, '__sub_violating') -%}
        {%- do run_query(cdp.cc_create_table(sub_edges,
            "select edge.* from " ~ edges ~ " as edge inner join " ~ clusters ~ " as cluster on cluster.node = edge.node_a"
            ~ " where cluster.label in (select label from " ~ violating ~ ")")) -%}
        {%- do run_query(cdp.cc_create_table(rejected, "select node_a, node_b from " ~ sub_edges ~ " where 1 = 0")) -%}
        {#- A level without links of its own cuts nothing: its components are the previous level's. -#}
        {%- set cut_levels = run_query("select distinct cut_priority from " ~ sub_edges).columns[0].values() | list -%}
        {%- for level in levels + ['final'] if level == 'final' or level in cut_levels -%}
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
        {#- Nodes of rebuilt clusters take their new labels; a node left without links keeps itself. -#}
        {%- do run_query(cdp.cc_create_table(cut_labels,
            "select cluster.node, coalesce(sub_label.label, case when cluster.label in (select label from " ~ violating
            ~ ") then cluster.node else cluster.label end) as label from " ~ clusters ~ " as cluster left join " ~ sub_labels
            ~ " as sub_label on sub_label.node = cluster.node") ~ cdp.cc_analyze_sql(cut_labels)) -%}
        {%- for relation in [sub_edges, rejected, accepted, sub_labels, sub_violating] -%}{%- do adapter.drop_relation(relation) -%}{%- endfor -%}
    {%- endif -%}

    {%- set result -%}
        with linked as (
            select
                end_a.label,
                count(*) as links
            from {{ edges }} as link
            inner join {{ labels }} as end_a on end_a.node = link.node_a
            inner join {{ labels }} as end_b on end_b.node = link.node_b
            where end_a.label = end_b.label
            group by end_a.label
        )
        select
            cast(label.node as {{ dbt.type_bigint() }}) as node_id,
            cast(label.label as {{ dbt.type_bigint() }}) as component_id,
            node.identifier_type,
            node.identifier_value,
            cast(coalesce(linked.links, 0) as {{ dbt.type_bigint() }}) as component_links,
            cast(cluster.label as {{ dbt.type_bigint() }}) as cluster_id
        from {{ labels }} as label
        inner join {{ clusters }} as cluster on cluster.node = label.node
        inner join {{ nodes_relation }} as node on node.node_id = label.node
        left join linked on linked.label = label.label
    {%- endset -%}

    {% call statement('main') -%}
        {%- if incremental %}
        delete from {{ target_relation }} where node_id in (select node from {{ scope }});
        insert into {{ target_relation }} (node_id, component_id, identifier_type, identifier_value, component_links, cluster_id)
        {{ result }};
        delete from {{ links }} as kept where exists (
            select 1 from {{ delta }} as removed
            where removed.is_added = 0 and removed.node_a = kept.node_a and removed.node_b = kept.node_b
        );
        insert into {{ links }} (node_a, node_b) select node_a, node_b from {{ delta }} where is_added = 1
        {%- else %}
        drop table if exists {{ target_relation }};
        create table {{ target_relation }} as {{ result }};
        drop table if exists {{ links }};
        create table {{ links }} as select node_a, node_b from {{ edges }}
        {%- endif %}
    {%- endcall %}

    {%- set counts = run_query("select (select count(*) from " ~ current_links ~ "), (select count(*) from " ~ target_relation
        ~ "), (select count(distinct component_id) from " ~ target_relation ~ "), (select count(*) from " ~ edges ~ ")").rows[0] -%}
    {%- set seconds = (modules.datetime.datetime.utcnow() - started).total_seconds() -%}
    {%- do run_query("insert into " ~ runs ~ " (run_started_at, edges, nodes, components, rounds, limit_violations, cut_edges, seconds, mode, solved_edges, rules, node_registry)"
        ~ " values (cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ dbt.type_timestamp() ~ "), "
        ~ counts[0] ~ ", " ~ counts[1] ~ ", " ~ counts[2] ~ ", " ~ state.max_rounds_used ~ ", " ~ violating_count ~ ", " ~ state.rejected ~ ", " ~ seconds
        ~ ", '" ~ ('incremental' if incremental else 'full') ~ "', " ~ counts[3] ~ ", '" ~ rules ~ "', '" ~ registry ~ "')") -%}
    {%- for relation in [edges, node_types, clusters, cut_labels, violating, delta, scope] -%}{%- do adapter.drop_relation(relation) -%}{%- endfor -%}

    {{ run_hooks(post_hooks) }}
    {%- do adapter.commit() -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
