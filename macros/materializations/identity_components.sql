{#- Materializes the identity graph's connected components: the model's SQL yields edges (node_a, node_b,
    node_a_type, node_b_type, cut_priority); the result is one row per node with its component_id.
    The loop runs only when the model is built (never on compile or docs generate).

    Limits (identifier_types.<type>.max_per_customer): components that break one are rebuilt from their
    strongest links up, one priority level at a time; at each level, the links of that level inside a
    component that would break a limit are cut. Every run is logged in identity_component_runs.

    Incremental (the table exists, same limit rules, no --full-refresh): every previous component whose
    identifiers are all still there with the same links inside it is contracted to one node (its smallest
    node id); only the links that touch a new identifier, a changed component or two different components
    are solved, and only the components they form are checked against the limits. A new link that bridges
    two old components therefore relabels every member of both. The result equals a full rebuild. -#}
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
    {%- set priorities = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}{%- do priorities.update({name: rules.priority}) -%}{%- endfor -%}
    {#- The rules that decide cuts; when they change, an incremental run would keep stale cuts, so it runs in full. -#}
    {%- set rules = tojson({'limits': limits, 'priorities': priorities}, sort_keys=true) -%}
    {%- set nodes_relation = ref(config.get('nodes')) -%}
    {%- set runs = target_relation.incorporate(path={'identifier': 'identity_component_runs'}) -%}
    {%- set existing = load_relation(this) -%}

    {{ run_hooks(pre_hooks) }}

    {%- do run_query(cdp.cc_create_table(edges, sql)) -%}
    {%- do cdp.cc_analyze(edges) -%}
    {%- do run_query(cdp.cc_create_table(node_types,
        "select node_a as node, node_a_type as identifier_type from " ~ edges
        ~ " union select node_b, node_b_type from " ~ edges)) -%}
    {#- A number per identifier that stays the same across builds (node ids do not): sums over a component's links
        fingerprint its link set, so an incremental build notices a link replaced by another. -#}
    {%- set node_keys = cdp.cc_work_relation(target_relation, '__node_keys') -%}
    {%- do run_query(cdp.cc_create_table(node_keys,
        "select node_id as node, " ~ cdp.identifier_number('identifier_type', 'identifier_value') ~ " as node_key from " ~ nodes_relation)
        ~ cdp.cc_analyze_sql(node_keys)) -%}
    {%- do run_query("create table if not exists " ~ runs ~ " (run_started_at " ~ dbt.type_timestamp() ~ ", edges " ~ dbt.type_bigint()
        ~ ", nodes " ~ dbt.type_bigint() ~ ", components " ~ dbt.type_bigint() ~ ", rounds integer, limit_violations integer, cut_edges "
        ~ dbt.type_bigint() ~ ", seconds " ~ cdp.type_double() ~ "); alter table " ~ runs ~ " add column if not exists mode " ~ dbt.type_string()
        ~ "; alter table " ~ runs ~ " add column if not exists solved_edges " ~ dbt.type_bigint()
        ~ "; alter table " ~ runs ~ " add column if not exists rules " ~ dbt.type_string()) -%}
    {%- set incremental = existing is not none and not should_full_refresh()
        and 'component_fingerprint' in (adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list)
        and run_query("select rules from " ~ runs ~ " where run_started_at = (select max(run_started_at) from " ~ runs ~ ")").columns[0].values() | list == [rules] -%}
    {%- set checked = labels -%}
    {%- if incremental -%}
        {%- set old = cdp.cc_work_relation(target_relation, '__old') -%}
        {%- set supers = cdp.cc_work_relation(target_relation, '__supers') -%}
        {%- set contracted = cdp.cc_work_relation(target_relation, '__contracted') -%}
        {%- set small_labels = cdp.cc_work_relation(target_relation, '__small_labels') -%}
        {%- set checked = cdp.cc_work_relation(target_relation, '__checked') -%}
        {%- do run_query(cdp.cc_create_table(old,
            "select node.node_id, previous.component_id as old_component from " ~ nodes_relation ~ " as node inner join " ~ existing
            ~ " as previous on previous.identifier_type = node.identifier_type and previous.identifier_value = node.identifier_value")
            ~ cdp.cc_analyze_sql(old) ~ "; " ~ cdp.cc_create_table(supers,
            "with previous_component as (select component_id, count(*) as members, max(component_links) as links,"
            ~ " max(component_fingerprint) as fingerprint from " ~ existing
            ~ " group by component_id), present as (select old_component, min(node_id) as representative, count(*) as members from " ~ old
            ~ " group by old_component), inside as (select end_a.old_component, count(*) as links,"
            ~ " sum((key_a.node_key * key_b.node_key) % 2147483647) as fingerprint from " ~ edges ~ " as link"
            ~ " inner join " ~ old ~ " as end_a on end_a.node_id = link.node_a inner join " ~ old ~ " as end_b on end_b.node_id = link.node_b"
            ~ " inner join " ~ node_keys ~ " as key_a on key_a.node = link.node_a inner join " ~ node_keys ~ " as key_b on key_b.node = link.node_b"
            ~ " where end_a.old_component = end_b.old_component group by end_a.old_component),"
            ~ " intact as (select present.old_component, present.representative from present inner join previous_component"
            ~ " on previous_component.component_id = present.old_component left join inside on inside.old_component = present.old_component"
            ~ " where present.members = previous_component.members and coalesce(inside.links, 0) = previous_component.links"
            ~ " and coalesce(inside.fingerprint, 0) = previous_component.fingerprint)"
            ~ " select old.node_id as node, intact.representative as super from " ~ old ~ " as old inner join intact on intact.old_component = old.old_component")
            ~ cdp.cc_analyze_sql(supers) ~ "; " ~ cdp.cc_create_table(contracted,
            "select coalesce(super_a.super, link.node_a) as node_a, coalesce(super_b.super, link.node_b) as node_b from " ~ edges ~ " as link"
            ~ " left join " ~ supers ~ " as super_a on super_a.node = link.node_a left join " ~ supers ~ " as super_b on super_b.node = link.node_b"
            ~ " where coalesce(super_a.super, link.node_a) <> coalesce(super_b.super, link.node_b)")) -%}
        {%- set rounds = cdp.connected_components(contracted, small_labels, identity.max_rounds) -%}
        {#- Every node: the label its contracted node got, else its component's smallest id, else itself. -#}
        {%- do run_query(cdp.cc_create_table(labels,
            "select node_type.node, coalesce(small.label, super.super, node_type.node) as label from " ~ node_types ~ " as node_type"
            ~ " left join " ~ supers ~ " as super on super.node = node_type.node left join " ~ small_labels
            ~ " as small on small.node = coalesce(super.super, node_type.node)") ~ cdp.cc_analyze_sql(labels) ~ "; "
            ~ cdp.cc_create_table(checked, "select node, label from " ~ labels ~ " where label in (select label from " ~ small_labels ~ ")")) -%}
        {%- set solved_edges = run_query("select count(*) from " ~ contracted).columns[0].values()[0] -%}
        {%- for relation in [old, supers, contracted, small_labels] -%}{%- do adapter.drop_relation(relation) -%}{%- endfor -%}
    {%- else -%}
        {%- set rounds = cdp.connected_components(edges, labels, identity.max_rounds) -%}
        {%- set solved_edges = none -%}
    {%- endif -%}
    {%- set violating = cdp.cc_work_relation(target_relation, '__violating') -%}
    {%- do run_query(cdp.cc_create_table(violating, cdp.identity_limit_violations(checked, node_types, limits))) -%}
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
        with linked as (
            select
                end_a.label,
                count(*) as links,
                sum((key_a.node_key * key_b.node_key) % 2147483647) as fingerprint
            from {{ edges }} as link
            inner join {{ labels }} as end_a on end_a.node = link.node_a
            inner join {{ labels }} as end_b on end_b.node = link.node_b
            inner join {{ node_keys }} as key_a on key_a.node = link.node_a
            inner join {{ node_keys }} as key_b on key_b.node = link.node_b
            where end_a.label = end_b.label
            group by end_a.label
        )
        select
            cast(label.node as {{ dbt.type_bigint() }}) as node_id,
            cast(label.label as {{ dbt.type_bigint() }}) as component_id,
            node.identifier_type,
            node.identifier_value,
            cast(coalesce(linked.links, 0) as {{ dbt.type_bigint() }}) as component_links,
            cast(coalesce(linked.fingerprint, 0) as {{ dbt.type_bigint() }}) as component_fingerprint
        from {{ labels }} as label
        inner join {{ nodes_relation }} as node on node.node_id = label.node
        left join linked on linked.label = label.label
    {%- endcall %}

    {%- set counts = run_query("select (select count(*) from " ~ edges ~ "), (select count(*) from " ~ node_types ~ "), (select count(distinct component_id) from " ~ target_relation ~ ")").rows[0] -%}
    {%- set seconds = (modules.datetime.datetime.utcnow() - started).total_seconds() -%}
    {%- do run_query("insert into " ~ runs ~ " (run_started_at, edges, nodes, components, rounds, limit_violations, cut_edges, seconds, mode, solved_edges, rules)"
        ~ " values (cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ dbt.type_timestamp() ~ "), "
        ~ counts[0] ~ ", " ~ counts[1] ~ ", " ~ counts[2] ~ ", " ~ state.max_rounds_used ~ ", " ~ violating_count ~ ", " ~ state.rejected ~ ", " ~ seconds
        ~ ", '" ~ ('incremental' if incremental else 'full') ~ "', " ~ (solved_edges if incremental else counts[0]) ~ ", '" ~ rules ~ "')") -%}
    {%- for relation in [edges, node_types, node_keys, labels, violating, checked] -%}{%- do adapter.drop_relation(relation) -%}{%- endfor -%}

    {{ run_hooks(post_hooks) }}
    {%- do adapter.commit() -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
