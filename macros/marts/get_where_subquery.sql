{#- The relation a data test reads (dbt's own macro, with the `where` config), narrowed on incremental builds
    (docs/customer_360.md, "Data tests on incremental builds"): a test on an incremental mart that applied only
    this build's changes in this invocation (its 'mart incremental' row in the build log) reads only the rows
    this build wrote (cdp.test_rows_written); a row-wise test on an identity source's staging view in a
    `dbt build` reads only the rows loaded since the previous build (cdp.test_rows_loaded). Every other test, and
    every test run on its own (`dbt test`, another invocation), reads the whole table. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set written = cdp.test_rows_written(relation) or cdp.test_rows_loaded(relation) -%}
    {%- if written -%}{%- do conditions.append('(' ~ written ~ ')') -%}{%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- A condition true for every row the build of `relation` wrote in this invocation, when it applied only this
    build's changes; '' otherwise (the test reads every row). A superset of the written rows: the rows of the
    customers this build touched (and, for int_customer_activity_traits, those a moving as-of date moved; for the
    models applying trait changes, those cdp.trait_changed_customers adds), the orders of int_orders_touched, the
    events without a customer; every row of int_customer_trait_changes. -#}
{% macro test_rows_written(relation) -%}
    {%- if not execute or relation.identifier is not defined -%}{{ return('') }}{%- endif -%}
    {%- set log = cdp.existing_relation('intermediate', 'identity_build_log') -%}
    {%- if log is none -%}{{ return('') }}{%- endif -%}
    {%- set name = relation.identifier -%}
    {%- set node = graph.nodes.get('model.cdp.' ~ name) -%}
    {#- Only an incremental model logs 'mart incremental' (cdp.customer_changes_mode). -#}
    {%- if node is not none and node.config.materialized != 'incremental' -%}{{ return('') }}{%- endif -%}
    {#- The marts this invocation logged, read again only for a mart not among them yet: a test runs after its
        model, whose row, once logged, stays. -#}
    {%- set cache = cdp.invocation_cache() -%}
    {%- if name not in cache.get('marts applied', []) -%}
        {%- set rows = run_query("select name from " ~ log ~ " where invocation_id = '" ~ invocation_id
            ~ "' and kind = 'mart incremental'").rows -%}
        {%- do cache.update({'marts applied': rows | map(attribute=0) | list}) -%}
    {%- endif -%}
    {%- if name not in cache['marts applied'] -%}{{ return('') }}{%- endif -%}
    {%- set touched = 'customer_id in (select customer_id from ' ~ cdp.existing_relation('intermediate', 'int_customers_touched') ~ ')' -%}
    {%- set orders_touched = 'order_id in (select order_id from ' ~ cdp.existing_relation('intermediate', 'int_orders_touched') ~ ')' -%}
    {%- if name == 'int_customer_trait_changes' -%}
        {{ return('') }}
    {%- elif node is not none and 'model.cdp.int_customer_trait_changes' in node.depends_on.nodes -%}
        {#- A model applying trait changes (cdp.trait_changed_customers; the relations by name, as a test has no
            ref to them). -#}
        {%- set since = cdp.previous_identity_build_started() -%}
        {%- set condition = touched ~ ' or customer_id in (select customer_id from '
            ~ cdp.existing_relation('intermediate', 'int_customer_trait_changes') ~ ' where changed_at > ' ~ since ~ ')' -%}
        {%- if 'model.cdp.segment_memberships' in node.depends_on.nodes -%}
            {%- set condition = condition ~ ' or customer_id in (select customer_id from '
                ~ cdp.existing_relation('segments', 'segment_memberships') ~ ' where entered_at > ' ~ since
                ~ ' or exited_at > ' ~ since ~ ')' -%}
        {%- endif -%}
        {{ return(condition) }}
    {%- elif name == 'int_customer_activity_traits' -%}
        {{ return(touched ~ ' or customer_id in (select customer_id from '
            ~ cdp.existing_relation('intermediate', 'int_customer_traits_moved') ~ ')') }}
    {%- elif name in ['int_orders_converted', 'orders', 'order_lines'] -%}
        {{ return(orders_touched) }}
    {%- elif name == 'events' -%}
        {{ return(touched ~ ' or customer_id is null') }}
    {%- else -%}
        {{ return(touched) }}
    {%- endif -%}
{%- endmacro %}

{#- A condition true for the rows of an identity source's staging view (vars.cdp_identity.sources, with a
    changed_at column) loaded at or after the previous identity build's high-water mark, for a row-wise test
    (each row passes or fails on its own) in a `dbt build` when the project is the one the previous identity
    build ran (every model's and seed's checksum and the variables the marts read: the fingerprint `customers`
    logged then); '' otherwise. The older rows are the ones that build read and tested with the same code. -#}
{% macro test_rows_loaded(relation) -%}
    {%- set row_wise = ['not_null', 'accepted_values', 'is_e164_phone', 'is_normalized_email'] -%}
    {%- if not execute or relation.identifier is not defined or flags.WHICH != 'build'
        or model.test_metadata is not defined or model.test_metadata.name not in row_wise -%}
        {{ return('') }}
    {%- endif -%}
    {%- set sources = var('cdp_identity').get('sources', []) | selectattr('model', 'equalto', relation.identifier)
        | selectattr('changed_at', 'defined') | list -%}
    {%- set previous = cdp.previous_identity_build() -%}
    {%- if sources | length != 1 or previous is none -%}{{ return('') }}{%- endif -%}
    {%- set customers = graph.nodes.get('model.cdp.customers') -%}
    {%- if customers is none -%}{{ return('') }}{%- endif -%}
    {%- set logged = cdp.previous_build_rows('marts').get('customers') -%}
    {%- if logged is none or logged != cdp.customer_changes_fingerprint(customers.raw_code) -%}
        {{ return('') }}
    {%- endif -%}
    {#- The mark as a literal, so the condition reaches the scan of the view's source rows. -#}
    {%- set mark = cdp.previous_build_rows('marks').get(relation.identifier) -%}
    {%- if mark is none -%}{{ return('') }}{%- endif -%}
    {{ return(sources[0].changed_at ~ " >= cast('" ~ mark ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}
