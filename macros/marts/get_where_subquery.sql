{#- The relation a data test reads (dbt's own macro, with the `where` config), narrowed on incremental builds
    (docs/customer_360.md, "Data tests on incremental builds"): a test on an incremental mart that applied only
    this build's changes in this invocation (its 'mart incremental' row in the build log) reads only the rows
    this build wrote (cdp.test_rows_written). Every other test, and every test run on its own (`dbt test`, another
    invocation), reads the whole table. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set written = cdp.test_rows_written(relation) -%}
    {%- if written -%}{%- do conditions.append('(' ~ written ~ ')') -%}{%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- A condition true for every row the build of `relation` wrote in this invocation, when it applied only this
    build's changes; '' otherwise (the test reads every row). A superset of the written rows: the rows of the
    customers this build touched (and, for int_customer_activity_traits, those a moving as-of date moved), the
    orders of int_orders_touched, the events without a customer. -#}
{% macro test_rows_written(relation) -%}
    {%- if not execute or relation.identifier is not defined -%}{{ return('') }}{%- endif -%}
    {%- set log = cdp.existing_relation('intermediate', 'identity_build_log') -%}
    {%- if log is none -%}{{ return('') }}{%- endif -%}
    {%- set name = relation.identifier -%}
    {%- set applied = run_query("select count(*) from " ~ log ~ " where invocation_id = '" ~ invocation_id
        ~ "' and kind = 'mart incremental' and name = '" ~ name ~ "'").rows[0][0] -%}
    {%- if applied == 0 -%}{{ return('') }}{%- endif -%}
    {%- set touched = 'customer_id in (select customer_id from ' ~ cdp.existing_relation('intermediate', 'int_customers_touched') ~ ')' -%}
    {%- set orders_touched = 'order_id in (select order_id from ' ~ cdp.existing_relation('intermediate', 'int_orders_touched') ~ ')' -%}
    {%- if name == 'int_customer_activity_traits' -%}
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
