{#- Incremental customer-level and record-level marts (docs/customer_360.md, "Incremental builds").

    A mart applies only this build's changes when every one of these holds; otherwise it recomputes every row:
    - it has a table and no --full-refresh (is_incremental());
    - the identity layer ran incrementally in this invocation (its change sets are this build's);
    - the mart applied the previous identity build (it logged a step in that invocation), with the same
      fingerprint: the model's code, every model's and seed's checksum and the project variables it reads.
      A project edited since (a rule, a seed, a source mapping) therefore recomputes every mart once. -#}

{%- macro customer_changes_fingerprint(raw_code=none) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {#- The project's part (every model's and seed's checksum, the variables) is the same for every node of an
        invocation: computed once. -#}
    {%- set cache = cdp.invocation_cache() -%}
    {%- if 'project fingerprint' not in cache -%}
        {%- set parts = [] -%}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') if node.resource_type in ['model', 'seed'] -%}
            {%- do parts.append(node.unique_id ~ ' ' ~ node.checksum.checksum) -%}
        {%- endfor -%}
        {%- for name in ['cdp_identity', 'cdp_survivorship', 'cdp_sources', 'cdp_loader_tables', 'cdp_custom_sources',
            'cdp_default_country', 'cdp_reporting_currency', 'cdp_as_of_date', 'cdp_segments', 'cdp_raw_schema'] -%}
            {%- do parts.append(name ~ ' ' ~ tojson(var(name, none), sort_keys=true)) -%}
        {%- endfor -%}
        {%- do cache.update({'project fingerprint': parts | join('\n')}) -%}
    {%- endif -%}
    {{ return(local_md5('marts v1 ' ~ (model.raw_code if raw_code is none else raw_code) ~ '\n' ~ cache['project fingerprint'])) }}
{%- endmacro %}

{#- The invocation id of the previous build of the identity layer (its 'mode' row), or none. -#}
{% macro previous_identity_build() -%}
    {%- set cache = cdp.invocation_cache() -%}
    {%- if 'previous build' not in cache -%}
        {%- set log = cdp.existing_relation('intermediate', 'identity_build_log') -%}
        {%- if log is none -%}{{ return(none) }}{%- endif -%}
        {%- set rows = run_query("select invocation_id from " ~ log ~ " where kind = 'mode' and invocation_id <> '"
            ~ invocation_id ~ "' order by logged_at desc, invocation_id desc limit 1").rows -%}
        {#- Other invocations' rows only: the same answer for the whole of this one. -#}
        {%- do cache.update({'previous build': rows[0][0] if rows | length == 1 else none}) -%}
    {%- endif -%}
    {{ return(cache['previous build']) }}
{%- endmacro %}

{#- 'incremental' when this mart applies only this build's changes (see above), else 'full'. -#}
{% macro customer_changes_mode() -%}
    {%- if not execute or not is_incremental() or cdp.identity_build_mode() != 'incremental' -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set previous = cdp.previous_identity_build() -%}
    {%- if previous is none -%}{{ return('full') }}{%- endif -%}
    {%- set marts = cdp.previous_build_rows('marts') -%}
    {%- if marts.get(this.identifier) is none or marts[this.identifier] != cdp.customer_changes_fingerprint() -%}
        {{ return('full') }}
    {%- endif -%}
    {#- A model applying trait changes also needs the changes recorded since that build: int_customer_trait_changes
        ran in it (cdp.trait_changed_customers). -#}
    {%- if 'model.cdp.int_customer_trait_changes' in model.depends_on.nodes -%}
        {{ return('incremental' if 'int_customer_trait_changes' in marts else 'full') }}
    {%- endif -%}
    {{ return('incremental') }}
{%- endmacro %}

{#- Post-hook of an incremental mart: this build has been applied here, in its mode, with this fingerprint. -#}
{% macro customer_changes_done() -%}
    {%- set mode = cdp.customer_changes_mode() -%}
    {{ cdp.identity_build_log_ddl() }};
    insert into {{ cdp.identity_build_log() }} (invocation_id, kind, name, config_hash, logged_at)
    values ('{{ invocation_id }}', 'mart {{ mode }}', '{{ this.identifier }}', '{{ cdp.customer_changes_fingerprint() }}',
        {{ dbt.current_timestamp() }})
{%- endmacro %}

{#- A condition true for the rows of an identity source (`changed_at` its change column) written at or after the
    previous identity build's high-water mark for it: rows added or updated since (the mark is inclusive, as the
    identity layer reads it); true for every row when that build logged no mark for it. The mark is read when
    the SQL is rendered and written as a literal, so the condition reaches the scan of the staging view's source
    rows instead of being evaluated after the view's normalization of every row. -#}
{% macro changed_since_previous_build(source_model, changed_at) -%}
    {%- set mark = cdp.previous_build_rows('marks').get(source_model) -%}
    {%- if mark is none -%}
    (1 = 1)
    {%- else -%}
    ({{ changed_at }} >= cast('{{ mark }}' as {{ dbt.type_timestamp() }}))
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental mart: in an incremental build, delete the rows `condition` names (the rows this
    build writes again); in a full build on an existing table, every row. delete_where rewrites the table where
    there is no DELETE (plain Spark tables). -#}
{% macro customer_changes_delete(condition) -%}
    {%- set mode = cdp.customer_changes_mode() -%}
    {%- if not is_incremental() -%}
    select 1
    {%- elif mode == 'incremental' -%}
    {{ cdp.delete_where(this, condition) }}
    {%- else -%}
    {{ cdp.delete_where(this, '1 = 1') }}
    {%- endif -%}
{%- endmacro %}

{#- The customers this build touched (int_customers_touched), for the reason `touched_by` or any, as a subquery. -#}
{% macro customers_touched(touched_by=none) -%}
    select customer_id from {{ ref('int_customers_touched') }}
    {%- if touched_by %} where touched_by = '{{ touched_by }}'{% endif %}
{%- endmacro %}

{#- The events the events mart writes again in an incremental build, as a subquery of event ids: events whose
    source row was added or updated since the previous build, and events of records the identity layer changed
    (deleted ones included: deleted, not written back). -#}
{% macro events_changed_ids() -%}
    {{ cdp.records_changed_ids({'stg_segment__tracks': ['track_id', 'received_at'],
        'stg_segment__pages': ['page_id', 'received_at'], 'stg_app__events': ['app_event_id', 'received_at']}) }}
{%- endmacro %}

{#- The ids (as record_id) of the rows of identity sources `sources` ({model: [id column, changed_at column]})
    added or updated since the previous build, and of the records of those sources the identity layer changed. -#}
{% macro records_changed_ids(sources) -%}
    {%- for source_model, columns in sources.items() %}
    select {{ columns[0] }} as record_id from {{ ref(source_model) }}
    where {{ cdp.changed_since_previous_build(source_model, columns[1]) }}
    union all
    {%- endfor %}
    select record_id from {{ ref('int_identity_changed_records') }}
    where source_table in ('{{ sources.keys() | join("', '") }}')
{%- endmacro %}

{#- Pre-hook of a customer-level incremental model: one that holds rows of customers only, each row a function
    of its own customer's records, configured as config(**cdp.incremental_mart_config()) and filtering its
    inputs with customer_rows_filter. An incremental build deletes the rows of every customer
    this build touched (int_customers_touched, for any reason) and appends theirs again; a full one deletes
    every row and appends them all. -#}
{% macro customer_level_delete() -%}
    {{ cdp.customer_changes_delete('target_row.customer_id in (' ~ cdp.customers_touched() ~ ')') }}
{%- endmacro %}

{#- The condition of a customer-level model's rows: `column` is a customer this build touched (incremental) or
    true (full). -#}
{% macro customer_rows_filter(column) -%}
    {%- set touched = cdp.customers_touched() -%}
    {%- if cdp.customer_changes_mode() == 'incremental' -%}
    {{ column }} in ({{ touched }})
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The config() of an incremental mart: appended rows, new columns added, the pre-hook macro `delete` deleting
    the rows this build writes again, the post-hook macro `done` logging the build it applied. Used as
    config(**cdp.incremental_mart_config()), so the models share one definition. -#}
{% macro incremental_mart_config(delete='customer_level_delete', done='customer_changes_done') -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'append', 'on_schema_change': 'append_new_columns',
        'pre_hook': '{{ cdp.' ~ delete ~ '() }}', 'post_hook': '{{ cdp.' ~ done ~ '() }}'}) }}
{%- endmacro %}

{#- Pre-hook of events: the events this build writes again (events_changed_ids) and every event of a customer
    touched for an identity reason. -#}
{% macro events_delete() -%}
    {{ cdp.customer_changes_delete('target_row.event_id in (' ~ cdp.events_changed_ids()
        ~ ') or target_row.customer_id in (' ~ cdp.customers_touched('identity') ~ ')') }}
{%- endmacro %}

{#- Pre-hook of int_orders_converted, orders and order_lines: the orders this build writes again
    (int_orders_touched) and every row of a customer touched for an identity reason (its customer may have
    changed, merged or asked to be forgotten). -#}
{% macro orders_delete() -%}
    {{ cdp.customer_changes_delete('target_row.order_id in (select order_id from ' ~ ref('int_orders_touched')
        ~ ')' ~ ('' if this.identifier == 'int_orders_converted' else ' or target_row.customer_id in ('
        ~ cdp.customers_touched('identity') ~ ')')) }}
{%- endmacro %}

{#- A condition on `column` (an order id): in an incremental build, an order this build writes again
    (int_orders_touched); in a full build, true. -#}
{% macro order_rows_filter(column) -%}
    {#- Rendered before the mode is known, so dbt sees the ref when it parses the model. -#}
    {%- set orders = ref('int_orders_touched') -%}
    {%- if cdp.customer_changes_mode() == 'incremental' -%}
    {{ column }} in (select order_id from {{ orders }})
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}
