{#- The date traits are computed as of (vars.cdp_as_of_date, default the latest order date), as a one-row
    select of as_of_at. One definition for int_customer_activity_traits, its build log row and customer_traits. -#}
{% macro traits_as_of() -%}
    {%- set as_of_var = var('cdp_as_of_date', '') -%}
    {%- if as_of_var -%}
    select cast('{{ as_of_var }}' as {{ dbt.type_timestamp() }}) as as_of_at
    {%- else -%}
    select max(ordered_at) as as_of_at from {{ ref('int_orders_converted') }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of int_customer_activity_traits: the build applied (customer_changes_done) and the as-of date it
    applied, read by the next build to find the customers a moving as-of date moves. -#}
{% macro traits_as_of_done() -%}
    {{ cdp.customer_changes_done() }};
    insert into {{ cdp.identity_build_log() }} (invocation_id, kind, name, watermark, logged_at)
    select '{{ invocation_id }}', 'as of', '{{ this.identifier }}', as_of.as_of_at, {{ dbt.current_timestamp() }}
    from ({{ cdp.traits_as_of() }}) as as_of
{%- endmacro %}

{#- Pre-hook of int_customer_activity_traits: the rows of the customers this build touched or whose traits a
    moving as-of date moved (int_customer_traits_moved). -#}
{% macro activity_traits_delete() -%}
    {{ cdp.customer_changes_delete('target_row.customer_id in (' ~ cdp.customers_touched()
        ~ ') or target_row.customer_id in (select customer_id from ' ~ ref('int_customer_traits_moved') ~ ')') }}
{%- endmacro %}

{#- The rolling windows of the activity traits, in days before the as-of date, per kind of record: one
    definition for the traits (int_customer_activity_traits) and for the customers a moving as-of date moves
    (int_customer_traits_moved), whose records enter or leave a window. -#}
{% macro activity_trait_windows() -%}
    {{ return({'email_events': [30, 90], 'pages': [30]}) }}
{%- endmacro %}

{#- A condition: `column` lies in (`low_at` - days, `high_at` - days], for `days` 0 and each of `windows`: a
    record whose trait a move of the as-of date from low_at to high_at changes (counted now or no longer). -#}
{% macro moved_by_as_of(column, windows, low_at='moved.low_at', high_at='moved.high_at') -%}
    {%- for days in [0] + windows %}
    {% if not loop.first %}or {% endif -%}
    ({{ column }} > {{ cdp.days_before(days, low_at) }} and {{ column }} <= {{ cdp.days_before(days, high_at) }})
    {%- endfor %}
{%- endmacro %}

{#- `days` days before the timestamp expression `at` (`at` itself for 0). -#}
{% macro days_before(days, at) -%}
    {%- if days == 0 -%}{{ at }}{%- else -%}{{ dbt.dateadd('day', -days, at) }}{%- endif -%}
{%- endmacro %}
