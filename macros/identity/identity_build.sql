{#- Incremental identity builds. A build reads only the source rows that changed since the previous build
    (sources with a changed_at column: rows at or after that build's high-water mark; others in full) and
    every incremental identity model applies only what those changes touch. The log table
    (intermediate.identity_build_log) holds, per build: its mode, each source's high-water mark and row count,
    the identity configuration's fingerprint, and one 'step' row per incremental model that applied the build.
    A build runs incrementally only when the previous build was applied by every incremental identity model
    with the same configuration; otherwise (first build, --full-refresh, a failed or partial build, changed
    rules) it runs in full and every model rebuilds from everything. -#}

{#- The incremental identity models: each logs a step when it has applied a build. -#}
{% macro identity_incremental_models() -%}
    {{ return([
        'int_identifiers_validated', 'int_identity_hubs', 'int_identity_node_ids', 'int_identity_nodes',
        'int_identity_record_anchors', 'int_identity_edges', 'int_identity_components',
        'int_customer_ids_resolved', 'customer_id_history', 'identity_graph', 'identity_records',
        'identity_excluded_identifiers',
    ]) }}
{%- endmacro %}

{% macro identity_build_log() -%}
    {{ return(api.Relation.create(database=(target.database or none), schema=generate_schema_name('intermediate', model),
        identifier='identity_build_log', type='table')) }}
{%- endmacro %}

{#- A relation of this project that already exists, looked up without ref (its previous state, read by the
    model that builds before it), or none. -#}
{% macro existing_relation(schema, identifier) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(database=(target.database or none), schema=generate_schema_name(schema, model), identifier=identifier)) }}
{%- endmacro %}

{#- Creates the log when it does not exist. Only the post-hook of int_identity_record_changes, which runs before
    every other identity model, passes upgrade=true: it adds the columns of a newer layout to a log written
    before them. The models that log a step run in parallel and never alter the log, because each holds a
    lock on it from reading the build mode, and two waiting to alter it would deadlock on PostgreSQL. -#}
{% macro identity_build_log_ddl(upgrade=false) -%}
    create table if not exists {{ cdp.identity_build_log() }} (
        invocation_id {{ dbt.type_string() }},
        kind {{ dbt.type_string() }},
        name {{ dbt.type_string() }},
        watermark {{ dbt.type_timestamp() }},
        source_rows {{ dbt.type_bigint() }},
        config_hash {{ dbt.type_string() }},
        logged_at {{ dbt.type_timestamp() }},
        boundary_rows {{ dbt.type_bigint() }},
        below_keysum {{ dbt.type_bigint() }}
    )
    {#- Only a log that exists before this statement can lack a column (Spark looks its columns up now). -#}
    {%- set log = cdp.existing_relation('intermediate', 'identity_build_log') if upgrade else none -%}
    {%- if log is not none -%}
    {%- for column in ['boundary_rows', 'below_keysum'] %};
    {{ cdp.add_column_if_missing(log, column, dbt.type_bigint()) }}
    {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of each incremental identity model: this build has been applied here. -#}
{% macro identity_step_done() -%}
    {{ cdp.identity_build_log_ddl() }};
    insert into {{ cdp.identity_build_log() }} (invocation_id, kind, name, logged_at)
    values ('{{ invocation_id }}', 'step', '{{ this.identifier }}', {{ dbt.current_timestamp() }})
{%- endmacro %}


{#- This build's mode ('full' or 'incremental'), as int_identity_record_changes decided and logged it;
    'full' when it has not run in this invocation. -#}
{% macro identity_build_mode() -%}
    {%- if not execute -%}{{ return('full') }}{%- endif -%}
    {%- set cache = cdp.invocation_cache() -%}
    {%- if 'mode' in cache -%}{{ return(cache['mode']) }}{%- endif -%}
    {%- set log = cdp.existing_relation('intermediate', 'identity_build_log') -%}
    {%- if log is none -%}{{ return('full') }}{%- endif -%}
    {%- set rows = run_query("select name from " ~ log ~ " where invocation_id = '" ~ invocation_id ~ "' and kind = 'mode'").rows -%}
    {#- Kept once logged (a build logs its mode once); asked again until then. -#}
    {%- if rows | length == 1 -%}{%- do cache.update({'mode': rows[0][0]}) -%}{%- endif -%}
    {{ return(rows[0][0] if rows | length == 1 else 'full') }}
{%- endmacro %}

{#- True when this model should apply only this build's changes: it has a table and the build is incremental. -#}
{% macro identity_applies_changes() -%}
    {{ return(is_incremental() and cdp.identity_build_mode() == 'incremental') }}
{%- endmacro %}

{#- The plan of this build, decided by int_identity_record_changes: its mode, and per source the previous
    high-water mark, row count, boundary row count (the rows at that mark) and the checksum of the record ids
    below that mark (key_checksum; a row with no change time counts as below), and the current ones (read
    before the changes are, so a row written meanwhile is read again by the next build, never missed). In an
    incremental build the same scan gives, per source read from its previous mark (`since`: the condition),
    the rows read and the checksum of the ids below the previous mark. -#}
{% macro identity_build_plan(identity) -%}
    {#- The configuration and the version of the incremental state's layout: a change to either runs in full. -#}
    {#- With fuzzy matching on, its configuration and the groups' version count too: new groups rebuild in full. -#}
    {%- set matching = cdp.identity_match_config() -%}
    {%- set fuzzy = '' if matching is none else ' fuzzy ' ~ tojson(var('cdp_matching'), sort_keys=true) ~ ' ' ~ matching.fingerprint -%}
    {#- The blocklist seed's rows count as configuration: editing the CSV rebuilds in full. -#}
    {%- set blocklist = ' blocklist ' ~ tojson(identity.get('blocklist_rows', [])) -%}
    {%- set config_hash = local_md5('state v4 ' ~ tojson(var('cdp_identity'), sort_keys=true) ~ fuzzy ~ blocklist) -%}
    {%- set plan = {'mode': 'full', 'config_hash': config_hash, 'sources': {}, 'since': {}, 'reason': 'first build'} -%}
    {%- if not execute -%}{{ return(plan) }}{%- endif -%}
    {%- set log = cdp.existing_relation('intermediate', 'identity_build_log') -%}
    {%- set validated = cdp.existing_relation('intermediate', 'int_identifiers_validated') -%}
    {%- if flags.FULL_REFRESH -%}
        {%- do plan.update({'reason': '--full-refresh'}) -%}
    {%- elif log is not none and validated is not none -%}
        {%- set previous = run_query("select invocation_id, config_hash, cast(watermark as " ~ dbt.type_string() ~ ") from " ~ log ~ " where kind = 'mode' and invocation_id <> '"
            ~ invocation_id ~ "' order by logged_at desc, invocation_id desc limit 1").rows -%}
        {%- if previous | length == 0 -%}
            {%- do plan.update({'reason': 'no previous build logged'}) -%}
        {%- elif previous[0][1] != config_hash -%}
            {%- do plan.update({'reason': 'the identity configuration changed'}) -%}
        {%- else -%}
            {%- set steps = run_query("select distinct name from " ~ log ~ " where kind = 'step' and invocation_id = '" ~ previous[0][0] ~ "'").columns[0].values() | list -%}
            {%- set missing = cdp.identity_incremental_models() | reject('in', steps) | list -%}
            {%- if missing -%}
                {%- do plan.update({'reason': 'the previous build was not applied by ' ~ missing | join(', ')}) -%}
            {%- else -%}
                {%- for row in run_query("select name, cast(watermark as " ~ dbt.type_string() ~ "), source_rows, boundary_rows, below_keysum from " ~ log
                    ~ " where kind = 'marks' and invocation_id = '" ~ previous[0][0] ~ "'").rows -%}
                    {%- do plan.sources.update({row[0]: {'watermark': row[1], 'rows': row[2] | int, 'boundary_rows': row[3], 'below_keysum': row[4]}}) -%}
                {%- endfor -%}
                {%- do plan.update({'mode': 'incremental', 'reason': none, 'previous_started': previous[0][2]}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {#- One scan of each source: its current mark and, in an incremental build, the rows read from the previous
        mark on and the checksum of the record ids below that mark (int_identity_record_changes). -#}
    {%- set current = {} -%}
    {%- set since = {} -%}
    {%- set counts = [] -%}
    {%- for source in identity.sources -%}
        {%- set previous = plan.sources.get(source.model) -%}
        {%- if source.changed_at -%}
            {%- set watermark = "max(" ~ source.changed_at ~ ")" -%}
            {%- set latest = "(select max(" ~ source.changed_at ~ ") from " ~ ref(source.model) ~ ")" -%}
            {%- set boundary = "sum(case when " ~ source.changed_at ~ " = " ~ latest ~ " then 1 else 0 end)" -%}
            {%- set below = cdp.key_checksum(cdp.identity_record_key(source),
                "not coalesce(" ~ source.changed_at ~ " >= " ~ latest ~ ", false)") -%}
        {%- else -%}
            {%- set watermark, boundary, below = "null", "null", "null" -%}
        {%- endif -%}
        {%- set read, below_previous = "null", "null" -%}
        {%- if source.changed_at and previous and previous.watermark is not none -%}
            {%- do since.update({source.model: source.changed_at ~ " >= cast('" ~ previous.watermark ~ "' as " ~ dbt.type_timestamp() ~ ")"}) -%}
            {%- set read = "sum(case when " ~ since[source.model] ~ " then 1 else 0 end)" -%}
            {%- set below_previous = cdp.key_checksum(cdp.identity_record_key(source), "not coalesce(" ~ since[source.model] ~ ", false)") -%}
        {%- endif -%}
        {%- do counts.append("select '" ~ source.model ~ "', cast(" ~ watermark ~ " as " ~ dbt.type_string() ~ "), count(*), "
            ~ "cast(" ~ boundary ~ " as " ~ dbt.type_bigint() ~ "), cast(" ~ below ~ " as " ~ dbt.type_bigint() ~ "), "
            ~ "cast(" ~ read ~ " as " ~ dbt.type_bigint() ~ "), cast(" ~ below_previous ~ " as " ~ dbt.type_bigint() ~ ") from " ~ ref(source.model)) -%}
    {%- endfor -%}
    {%- for row in run_query(counts | join(' union all ')).rows -%}
        {%- do current.update({row[0]: {'watermark': row[1], 'rows': row[2] | int, 'boundary_rows': row[3], 'below_keysum': row[4],
            'read_rows': row[5], 'below_previous_keysum': row[6]}}) -%}
    {%- endfor -%}
    {%- do plan.update({'current': current, 'since': since}) -%}
    {{ return(plan) }}
{%- endmacro %}

{#- Post-hook of int_identity_record_changes: this build's mode and marks, from its own rows. -#}
{% macro identity_log_changes() -%}
    {{ cdp.identity_build_log_ddl(upgrade=true) }};
    insert into {{ cdp.identity_build_log() }} (invocation_id, kind, name, watermark, source_rows, config_hash, logged_at, boundary_rows, below_keysum)
    select
        '{{ invocation_id }}',
        case change when 'mode' then 'mode' else 'marks' end,
        source_table,
        mark_watermark,
        mark_rows,
        case change when 'mode' then identifier_value end,
        {{ dbt.current_timestamp() }},
        mark_boundary_rows,
        mark_below_keysum
    from {{ this }}
    where change in ('mark', 'mode')
{%- endmacro %}

{#- Pre-hook of an incremental identity model: an incremental build deletes the rows of the keys it changes
    (`keys` columns of `changes`; delete_changed_keys), a full build on an existing table every row. -#}
{% macro identity_delete_changed(changes, keys) -%}
    {%- if is_incremental() and cdp.identity_build_mode() != 'incremental' -%}
    {{ cdp.delete_where(this, '1 = 1') }}
    {%- else -%}
    {{ cdp.delete_changed_keys(changes, keys) }}
    {%- endif -%}
{%- endmacro %}

{#- A source row's record id as the identity layer holds it (record_id, a string), of the relation named
    relation_alias when given. -#}
{% macro identity_record_key(source, relation_alias=none) -%}
    cast({{ relation_alias ~ '.' if relation_alias }}{{ source.record_id }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- One source's identifier rows (source_table, record_id, identifier_type, identifier_value_raw, observed_at,
    changed_at: null for a source without a changed_at column), one per non-null identifier column or composite
    key (its parts normalized and joined, composite_identifier), limited to the rows matching `where` when given;
    the source is scanned once. -#}
{% macro identity_source_rows(source, where=none) -%}
    {%- set keys = [] -%}
    {%- for column, identifier_type in source.identifiers.items() -%}
        {%- do keys.append({'alias': column, 'type': identifier_type}) -%}
    {%- endfor -%}
    {%- for composite in source.composite_keys -%}
        {%- do keys.append({'alias': composite.alias, 'type': composite.type}) -%}
    {%- endfor -%}
    {%- if source.match_groups is not none -%}
        {%- do keys.append({'alias': 'cdp_match_group', 'type': 'fuzzy_match'}) -%}
    {%- endif %}
    select
        '{{ source.model }}' as source_table,
        source_row.record_id,
        identifier_column.identifier_type,
        case identifier_column.column_name
            {%- for key in keys %}
            when '{{ key.alias }}' then source_row.{{ key.alias }}
            {%- endfor %}
        end as identifier_value_raw,
        source_row.observed_at,
        source_row.changed_at
    from (
        select
            {{ cdp.identity_record_key(source) }} as record_id,
            cast({{ source.observed_at }} as {{ dbt.type_timestamp() }}) as observed_at,
            cast({{ source.changed_at or 'null' }} as {{ dbt.type_timestamp() }}) as changed_at
            {%- for column in source.identifiers %},
            cast({{ column }} as {{ dbt.type_string() }}) as {{ column }}
            {%- endfor %}
            {%- for composite in source.composite_keys %},
            {{ cdp.composite_identifier(composite.columns, composite.parts) }} as {{ composite.alias }}
            {%- endfor %}
            {%- if source.match_groups is not none %},
            cdp_match.cdp_match_group
            {%- endif %}
        from {{ ref(source.model) }} as source_record
        {%- if source.match_groups is not none %}
        {#- The record's fuzzy-matching group, when `cdp match` linked it (one group per record). #}
        left join (
            select record_id as cdp_match_record, match_group as cdp_match_group
            from {{ source.match_groups }}
            where source_table = '{{ source.model }}'
        ) as cdp_match
            on cdp_match.cdp_match_record = {{ cdp.identity_record_key(source) }}
        {%- endif %}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as source_row
    cross join (
        {%- for key in keys %}
        select '{{ key.alias }}' as column_name, '{{ key.type }}' as identifier_type
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as identifier_column
    where
        case identifier_column.column_name
            {%- for key in keys %}
            when '{{ key.alias }}' then source_row.{{ key.alias }}
            {%- endfor %}
        end is not null
{%- endmacro %}

{#- Every configured source model is built and has the configured columns; else a compile error naming the key. -#}
{% macro check_identity_sources(identity) -%}
    {%- for source in identity.sources -%}
        {%- set source_index = loop.index0 -%}
        {%- set available = adapter.get_columns_in_relation(ref(source.model)) | map(attribute='name') | map('lower') | list -%}
        {%- if available | length == 0 -%}
            {{ exceptions.raise_compiler_error("dbt_project.yml: vars.cdp_identity.sources[" ~ source_index ~ "]: " ~ source.model ~ " has not been built (or has no columns); build it first") }}
        {%- endif -%}
        {%- for column in [source.record_id, source.observed_at] + ([source.changed_at] if source.changed_at else []) + (source.identifiers.keys() | list) + (source.composite_keys | map(attribute='columns') | sum(start=[])) -%}
            {%- if column | lower not in available -%}
                {{ exceptions.raise_compiler_error("dbt_project.yml: vars.cdp_identity.sources[" ~ source_index ~ "] (" ~ source.model ~ "): column '" ~ column ~ "' does not exist in " ~ source.model ~ "; it has " ~ available | join(', ')) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endmacro %}
