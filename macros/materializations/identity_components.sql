{#- Materializes the identity graph's connected components: the model's SQL yields edges (node_a, node_b,
    node_a_type, node_b_type, cut_priority); the result is one row per linked node with its component_id (the
    smallest node id of its customer) and its cluster_id (the smallest node id of its connected component
    before any limit cut). The loop runs only when the model is built (never on compile or docs generate).

    Limits (identifier_types.<type>.max_per_customer): clusters that break one are rebuilt from their
    strongest links up, one priority level at a time; at each level, the links of that level inside a
    component that would break a limit are cut. Every run is logged in identity_component_runs.

    Incremental (the table exists, same limit rules, same node registry, no --full-refresh): node ids are
    stable (int_identity_node_ids), so this build's links are compared by id with the links the previous
    build solved (kept in identity_component_links): only the links named by config changed_links in an
    incremental identity build (identity_build_mode), else all of them. identity_component_changes lists the
    nodes whose rows the build deleted or wrote. A cluster that only gained links is still connected and
    is solved as one node; a cluster that lost a link is solved again from its links, node by node; together
    with the new identifiers, only these are solved. The clusters they form are checked against the limits
    and the breaking ones rebuilt from all their links. Only rows that change are deleted and written again:
    the members of a cluster that merged into one with a smaller id (a bridge relabels every member of the
    other cluster), of rebuilt and of broken clusters, and the new identifiers. Each cluster is solved and cut
    on its own in a full build too, so the result equals a full rebuild. -#}
{% materialization identity_components, default %}
    {%- set identity = cdp.identity_config() -%}
    {%- set started = modules.datetime.datetime.utcnow() -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set edges = cdp.cc_work_relation(target_relation, '__edges') -%}
    {%- set node_types = cdp.cc_work_relation(target_relation, '__node_types') -%}
    {%- set clusters = cdp.cc_work_relation(target_relation, '__clusters') -%}
    {%- set cut_labels = cdp.cc_work_relation(target_relation, '__cut_labels') -%}
    {%- set delta = cdp.cc_work_relation(target_relation, '__delta') -%}
    {%- set limits = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}
        {%- if rules.max_per_customer is not none -%}{%- do limits.update({name: rules.max_per_customer}) -%}{%- endif -%}
    {%- endfor -%}
    {#- The types with a limit, as an SQL list ('' when none). -#}
    {%- set limited_types = [] -%}
    {%- for name in limits -%}{%- do limited_types.append("'" ~ name ~ "'") -%}{%- endfor -%}
    {%- set limited = limited_types | join(', ') if limited_types else "''" -%}
    {%- set levels = identity.identifier_types.values() | map(attribute='priority') | unique | sort | list -%}
    {%- set priorities = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}{%- do priorities.update({name: rules.priority}) -%}{%- endfor -%}
    {#- The rules that decide cuts; when they change, an incremental run would keep stale cuts, so it runs in full. -#}
    {%- set rules = tojson({'limits': limits, 'priorities': priorities}, sort_keys=true) -%}
    {%- set nodes_relation = ref(config.get('nodes')) -%}
    {%- set node_ids_relation = ref(config.get('node_ids')) -%}
    {%- set runs = target_relation.incorporate(path={'identifier': 'identity_component_runs'}) -%}
    {%- set links = target_relation.incorporate(path={'identifier': 'identity_component_links'}) -%}
    {#- The node ids whose rows this build deleted or wrote (every node in a full build). -#}
    {%- set changes = target_relation.incorporate(path={'identifier': 'identity_component_changes'}) -%}
    {%- set existing = load_relation(this) -%}
    {%- set current_links = "(\n" ~ sql ~ "\n) as current_link" -%}

    {{ run_hooks(pre_hooks) }}

    {%- do run_query("create table if not exists " ~ runs ~ " (run_started_at " ~ dbt.type_timestamp() ~ ", edges " ~ dbt.type_bigint()
        ~ ", nodes " ~ dbt.type_bigint() ~ ", components " ~ dbt.type_bigint() ~ ", rounds integer, limit_violations integer, cut_edges "
        ~ dbt.type_bigint() ~ ", seconds " ~ cdp.type_double() ~ "); " ~ cdp.add_column_if_missing(runs, 'mode', dbt.type_string())
        ~ "; " ~ cdp.add_column_if_missing(runs, 'solved_edges', dbt.type_bigint())
        ~ "; " ~ cdp.add_column_if_missing(runs, 'rules', dbt.type_string())
        ~ "; " ~ cdp.add_column_if_missing(runs, 'node_registry', dbt.type_string())) -%}
    {#- The registry's first registration time names it: a registry built again from scratch numbers the
        identifiers differently, and the previous components (by node id) no longer apply. -#}
    {%- set registry = run_query("select cast(min(registered_at) as " ~ dbt.type_string() ~ ") from " ~ node_ids_relation).columns[0].values()[0] | string -%}
    {%- set last_run = run_query("select rules, node_registry from " ~ runs ~ " where run_started_at = (select max(run_started_at) from " ~ runs ~ ")").rows -%}
    {%- set incremental = existing is not none and not should_full_refresh()
        and 'cluster_id' in (adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list)
        and load_relation(links) is not none
        and last_run | length == 1 and last_run[0][0] == rules and last_run[0][1] | string == registry -%}

    {%- set violating = cdp.cc_work_relation(target_relation, '__violating') -%}
    {#- The links to compare with the previous build's: all of them, or, when an incremental identity build
        names the links it changed (config changed_links), only those. -#}
    {%- set compared_links = current_links -%}
    {%- set compared_kept = links ~ " as kept" -%}
    {%- if incremental and config.get('changed_links') and cdp.identity_build_mode() == 'incremental' -%}
        {%- set changed_links = ref(config.get('changed_links')) -%}
        {%- set compared_links = "(select * from " ~ current_links ~ " where exists (select 1 from " ~ changed_links
            ~ " as changed where changed.node_a = current_link.node_a and changed.node_b = current_link.node_b)) as current_link" -%}
        {%- set compared_kept = "(select * from " ~ links ~ " as kept where exists (select 1 from " ~ changed_links
            ~ " as changed where changed.node_a = kept.node_a and changed.node_b = kept.node_b)) as kept" -%}
    {%- endif -%}
    {%- if incremental -%}
        {%- set contracted = cdp.cc_work_relation(target_relation, '__contracted') -%}
        {%- set small_labels = cdp.cc_work_relation(target_relation, '__small_labels') -%}
        {%- set touched = cdp.cc_work_relation(target_relation, '__touched') -%}
        {%- set loose = cdp.cc_work_relation(target_relation, '__loose') -%}
        {%- set solve_edges = cdp.cc_work_relation(target_relation, '__solve_edges') -%}
        {%- set supers = cdp.cc_work_relation(target_relation, '__supers') -%}
        {%- set units = cdp.cc_work_relation(target_relation, '__units') -%}
        {#- The links gained and lost since the previous build (by node id); the previous clusters they touch
            (is_added = 0: the cluster lost a link); the loose nodes, solved one by one: the members of clusters
            that lost a link and the new ends of new links; the links to solve: the new ones and every link of a
            loose node (a link with one loose end has a loose or touched other end). -#}
        {%- do run_query(cdp.cc_create_table(delta,
            "select coalesce(current_link.node_a, kept.node_a) as node_a, coalesce(current_link.node_b, kept.node_b) as node_b,"
            ~ " current_link.node_a_type, current_link.node_b_type, case when kept.node_a is null then 1 else 0 end as is_added from "
            ~ compared_links ~ " full outer join " ~ compared_kept ~ " on kept.node_a = current_link.node_a and kept.node_b = current_link.node_b"
            ~ " where current_link.node_a is null or kept.node_a is null")
            ~ cdp.cc_analyze_sql(delta) ~ "; " ~ cdp.cc_create_table(touched,
            "select previous.cluster_id, min(changed.is_added) as is_added from " ~ existing ~ " as previous inner join (select node_a as node, is_added from "
            ~ delta ~ " union all select node_b, is_added from " ~ delta ~ ") as changed on changed.node = previous.node_id group by previous.cluster_id")
            ~ cdp.cc_analyze_sql(touched) ~ "; " ~ cdp.cc_create_table(loose,
            "select previous.node_id as node, previous.identifier_type from " ~ existing ~ " as previous where previous.cluster_id in (select cluster_id from "
            ~ touched ~ " where is_added = 0) union select new_end.node, new_end.identifier_type from (select node_a as node, node_a_type as identifier_type from "
            ~ delta ~ " where is_added = 1 union select node_b, node_b_type from " ~ delta ~ " where is_added = 1) as new_end"
            ~ " where not exists (select 1 from " ~ existing ~ " as previous where previous.node_id = new_end.node)")
            ~ cdp.cc_analyze_sql(loose) ~ "; " ~ cdp.cc_create_table(solve_edges,
            "select node_a, node_b from " ~ delta ~ " where is_added = 1 union select current_link.node_a, current_link.node_b from " ~ current_links
            ~ " where current_link.node_a in (select node from " ~ loose ~ ")") ~ cdp.cc_analyze_sql(solve_edges)) -%}
        {#- Each end of a link to solve stands for its previous cluster (by the cluster's id, its smallest node id)
            when that cluster only gained links, else for itself. -#}
        {%- do run_query(cdp.cc_create_table(supers,
            "select link_end.node, case when touched.is_added = 1 then previous.cluster_id else link_end.node end as super from (select node_a as node from "
            ~ solve_edges ~ " union select node_b from " ~ solve_edges ~ ") as link_end left join " ~ existing ~ " as previous on previous.node_id = link_end.node"
            ~ " left join " ~ touched ~ " as touched on touched.cluster_id = previous.cluster_id") ~ cdp.cc_analyze_sql(supers) ~ "; "
            ~ cdp.cc_create_table(contracted,
            "select super_a.super as node_a, super_b.super as node_b from " ~ solve_edges ~ " as link inner join " ~ supers
            ~ " as super_a on super_a.node = link.node_a inner join " ~ supers ~ " as super_b on super_b.node = link.node_b where super_a.super <> super_b.super")
            ~ cdp.cc_analyze_sql(contracted)) -%}
        {%- set rounds = cdp.connected_components(contracted, small_labels, identity.max_rounds) -%}
        {#- Every solved unit (a cluster that only gained links, or a loose node still linked) and its new cluster. -#}
        {%- set placed -%}
            select previous.node_id as node, unit.label, previous.identifier_type
            from {{ existing }} as previous
            inner join {{ touched }} as touched on touched.cluster_id = previous.cluster_id and touched.is_added = 1
            inner join {{ units }} as unit on unit.unit = previous.cluster_id
            union all
            select loose.node, unit.label, loose.identifier_type
            from {{ loose }} as loose
            inner join {{ supers }} as super on super.node = loose.node
            inner join {{ units }} as unit on unit.unit = super.super
        {%- endset -%}
        {%- do run_query(cdp.cc_create_table(units,
            "select distinct super.super as unit, coalesce(small.label, super.super) as label from " ~ supers ~ " as super left join "
            ~ small_labels ~ " as small on small.node = super.super") ~ cdp.cc_analyze_sql(units) ~ "; " ~ cdp.cc_create_table(violating,
            cdp.identity_limit_violations_counted("(select label, identifier_type, count(*) as identifiers from ("
            ~ placed ~ ") as placed where identifier_type in (" ~ limited ~ ") group by label, identifier_type)", limits)) ~ cdp.cc_analyze_sql(violating)
            ~ "; " ~ cdp.cc_create_table(clusters, "select node, label from (" ~ placed ~ ") as placed where label in (select label from "
            ~ violating ~ ")") ~ cdp.cc_analyze_sql(clusters) ~ "; " ~ cdp.cc_create_table(node_types,
            "select cluster.node, coalesce(previous.identifier_type, loose.identifier_type) as identifier_type from " ~ clusters ~ " as cluster left join "
            ~ existing ~ " as previous on previous.node_id = cluster.node left join " ~ loose ~ " as loose on loose.node = cluster.node")
            ~ cdp.cc_analyze_sql(node_types) ~ "; " ~ cdp.cc_create_table(edges,
            "select current_link.* from " ~ current_links ~ " where current_link.node_a in (select node from " ~ clusters ~ ")")
            ~ cdp.cc_analyze_sql(edges)) -%}
        {%- set solved_edges = run_query("select count(*) from " ~ contracted).columns[0].values()[0] -%}
    {%- else -%}
        {%- do run_query(cdp.cc_create_table(edges, sql) ~ cdp.cc_analyze_sql(edges) ~ "; " ~ cdp.cc_create_table(node_types,
            "select node_a as node, node_a_type as identifier_type from " ~ edges
            ~ " union select node_b, node_b_type from " ~ edges) ~ cdp.cc_analyze_sql(node_types)) -%}
        {%- set rounds = cdp.connected_components(edges, clusters, identity.max_rounds) -%}
        {%- do run_query(cdp.cc_create_table(violating, cdp.identity_limit_violations(clusters, node_types, limits))) -%}
        {%- set solved_edges = none -%}
    {%- endif -%}
    {%- set labels = clusters -%}
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
        {#- A level without links of its own cuts nothing: its components are the previous level's. Once the links
            not cut yet form no component that breaks a limit, no later level can cut (its components lie inside
            those), so after a level that cut, that graph is solved: when it is clean, it is the result. -#}
        {%- set sizes = run_query("select distinct cut_priority, (select max(members) from (select count(*) as members from " ~ clusters
            ~ " where label in (select label from " ~ violating ~ ") group by label) as cluster_size) from " ~ sub_edges).rows -%}
        {%- set cut_levels = sizes | map(attribute=0) | list -%}
        {#- Clusters this small are solved in one statement at each level (connected_components_small). -#}
        {%- set small = sizes | length > 0 and sizes[0][1] <= 100 -%}
        {%- do state.update({'settled': false}) -%}
        {%- for level in levels + ['final'] if (level == 'final' or level in cut_levels) -%}
            {%- if not state.settled -%}
                {%- set level_filter = "" if level == 'final' else " and edge.cut_priority <= " ~ level -%}
                {%- do run_query(cdp.cc_create_table(accepted,
                    "select edge.* from " ~ sub_edges ~ " as edge where not exists (select 1 from " ~ rejected
                    ~ " as cut where cut.node_a = edge.node_a and cut.node_b = edge.node_b)" ~ level_filter)) -%}
                {%- set level_rounds = cdp.connected_components_small(accepted, sub_labels) if small else cdp.connected_components(accepted, sub_labels, identity.max_rounds) -%}
                {%- if level_rounds > state.max_rounds_used -%}{%- do state.update({'max_rounds_used': level_rounds}) -%}{%- endif -%}
                {%- if level != 'final' -%}
                    {%- set cuts = run_query(cdp.cc_create_table(sub_violating, cdp.identity_limit_violations(sub_labels, node_types, limits))
                        ~ "; insert into " ~ rejected ~ " (node_a, node_b) select edge.node_a, edge.node_b from " ~ accepted
                        ~ " as edge inner join " ~ sub_labels ~ " as label on label.node = edge.node_a"
                        ~ " where edge.cut_priority = " ~ level ~ " and label.label in (select label from " ~ sub_violating ~ ")"
                        ~ "; select count(*) from " ~ rejected).columns[0].values()[0] -%}
                    {%- if cuts > state.rejected -%}
                        {%- do state.update({'rejected': cuts}) -%}
                        {%- do run_query(cdp.cc_create_table(accepted,
                            "select edge.* from " ~ sub_edges ~ " as edge where not exists (select 1 from " ~ rejected
                            ~ " as cut where cut.node_a = edge.node_a and cut.node_b = edge.node_b)")) -%}
                        {%- set level_rounds = cdp.connected_components_small(accepted, sub_labels) if small else cdp.connected_components(accepted, sub_labels, identity.max_rounds) -%}
                        {%- if level_rounds > state.max_rounds_used -%}{%- do state.update({'max_rounds_used': level_rounds}) -%}{%- endif -%}
                        {%- do state.update({'settled': run_query("select count(*) from (" ~ cdp.identity_limit_violations(sub_labels, node_types, limits)
                            ~ ") as still_violating").columns[0].values()[0] == 0}) -%}
                    {%- endif -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do state.update({'rejected': run_query("select count(*) from " ~ rejected).columns[0].values()[0]}) -%}
        {#- Nodes of rebuilt clusters take their new labels; a node left without links keeps itself. -#}
        {%- do run_query(cdp.cc_create_table(cut_labels,
            "select cluster.node, coalesce(sub_label.label, case when cluster.label in (select label from " ~ violating
            ~ ") then cluster.node else cluster.label end) as label from " ~ clusters ~ " as cluster left join " ~ sub_labels
            ~ " as sub_label on sub_label.node = cluster.node") ~ cdp.cc_analyze_sql(cut_labels)) -%}
    {%- endif -%}

    {#- The rows of rebuilt clusters (all of them in a full build). -#}
    {%- set result -%}
        select
            cast(label.node as {{ dbt.type_bigint() }}) as node_id,
            cast(label.label as {{ dbt.type_bigint() }}) as component_id,
            node.identifier_type,
            node.identifier_value,
            cast(cluster.label as {{ dbt.type_bigint() }}) as cluster_id
        from {{ labels }} as label
        inner join {{ clusters }} as cluster on cluster.node = label.node
        inner join {{ nodes_relation }} as node on node.node_id = label.node
    {%- endset -%}

    {% call statement('main') -%}
        {%- if incremental %}
        {#- Written again: rebuilt clusters; loose nodes still linked; members of clusters relabelled by a merge. #}
        {%- set written = cdp.cc_work_relation(target_relation, '__written') %}
        {{ cdp.cc_create_table(written, result) }};
        insert into {{ written }} (node_id, component_id, identifier_type, identifier_value, cluster_id)
        select loose.node, unit.label, node.identifier_type, node.identifier_value, unit.label
        from {{ loose }} as loose
        inner join {{ supers }} as super on super.node = loose.node
        inner join {{ units }} as unit on unit.unit = super.super
        inner join {{ nodes_relation }} as node on node.node_id = loose.node
        where unit.label not in (select label from {{ violating }})
        union all
        select previous.node_id, unit.label, previous.identifier_type, previous.identifier_value, unit.label
        from {{ existing }} as previous
        inner join {{ touched }} as touched on touched.cluster_id = previous.cluster_id and touched.is_added = 1
        inner join {{ units }} as unit on unit.unit = previous.cluster_id
        where unit.label <> unit.unit and unit.label not in (select label from {{ violating }});
        {{ cdp.cc_create_table(changes, "select node_id from " ~ written ~ " union select node_id from " ~ target_relation
            ~ " where cluster_id in (select cluster_id from " ~ touched ~ " where is_added = 0)") }};
        {{ cdp.delete_where(target_relation,
            "target_row.node_id in (select node_id from " ~ written ~ ")"
            ~ " or target_row.cluster_id in (select cluster_id from " ~ touched ~ " where is_added = 0)") }};
        insert into {{ target_relation }} (node_id, component_id, identifier_type, identifier_value, cluster_id)
        select node_id, component_id, identifier_type, identifier_value, cluster_id from {{ written }};
        {{ cdp.delete_where(links,
            "exists (select 1 from " ~ delta ~ " as removed where removed.is_added = 0"
            ~ " and removed.node_a = kept.node_a and removed.node_b = kept.node_b)", alias='kept') }};
        insert into {{ links }} (node_a, node_b) select node_a, node_b from {{ delta }} where is_added = 1
        {%- else %}
        drop table if exists {{ target_relation }};
        create table {{ target_relation }} as {{ result }};
        drop table if exists {{ links }};
        create table {{ links }} as select node_a, node_b from {{ edges }};
        {{ cdp.cc_create_table(changes, "select node_id from " ~ target_relation) }}
        {%- endif %}
    {%- endcall %}

    {%- set counts = run_query("select (select count(*) from " ~ current_links ~ "), (select count(*) from " ~ target_relation
        ~ "), (select count(distinct component_id) from " ~ target_relation ~ ")").rows[0] -%}
    {%- set seconds = (modules.datetime.datetime.utcnow() - started).total_seconds() -%}
    {%- do run_query("insert into " ~ runs ~ " (run_started_at, edges, nodes, components, rounds, limit_violations, cut_edges, seconds, mode, solved_edges, rules, node_registry)"
        ~ " values (" ~ cdp.run_started_at_timestamp() ~ ", "
        ~ counts[0] ~ ", " ~ counts[1] ~ ", " ~ counts[2] ~ ", " ~ state.max_rounds_used ~ ", " ~ violating_count ~ ", " ~ state.rejected ~ ", " ~ seconds
        ~ ", '" ~ ('incremental' if incremental else 'full') ~ "', " ~ (solved_edges if incremental else counts[0]) ~ ", '" ~ rules ~ "', '" ~ registry ~ "')") -%}
    {%- set dropped = [] -%}
    {%- for suffix in ['__edges', '__node_types', '__clusters', '__cut_labels', '__violating', '__delta', '__touched', '__loose',
        '__solve_edges', '__supers', '__units', '__contracted', '__small_labels', '__written', '__sub_edges', '__rejected', '__accepted',
        '__sub_labels', '__sub_violating'] -%}
        {%- do dropped.append("drop table if exists " ~ cdp.cc_work_relation(target_relation, suffix)) -%}
    {%- endfor -%}
    {%- do run_query(dropped | join('; ')) -%}

    {{ run_hooks(post_hooks) }}
    {%- do adapter.commit() -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
