{#- Models reading customer_traits that apply only the customers whose rows changed (docs/customer_360.md,
    "Incremental builds"): int_email_contactable_customers and the activation models read from it, and
    sync_profiles__customers. customer_traits itself is rebuilt whole on every build; int_customer_trait_changes
    compares a hash of some of its columns per customer with the previous build's and stamps each change with
    the run that saw it. -#}

{#- The customer_traits columns whose changes int_customer_trait_changes records: every trait column a model
    applying trait changes reads, and no more (the as-of date alone moves as_of_at, days_since_last_order and the
    predictive scores of every buyer, which would make every buyer a change). A model that reads another trait
    column must not apply trait changes. -#}
{% macro trait_change_columns() -%}
    {{ return(['orders', 'revenue', 'last_order_at', 'recency_score', 'frequency_score', 'has_email_consent',
        'has_sms_consent', 'has_ads_consent']) }}
{%- endmacro %}

{#- A hash of the trait_change_columns of the customer_traits row aliased `alias` (a null and an empty value
    differ). -#}
{% macro trait_row_hash(alias) -%}
    {%- set parts = [] -%}
    {%- for column in cdp.trait_change_columns() -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ alias ~ "." ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- When the previous identity build started (its mode row's watermark), as a timestamp expression; a date before
    any build when it is not logged, so every recorded change counts. -#}
{% macro previous_identity_build_started() -%}
    coalesce(
        (
            select max(started.watermark) from {{ cdp.identity_build_log() }} as started
            where started.kind = 'mode' and started.invocation_id = '{{ cdp.previous_identity_build() }}'
        ),
        cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})
    )
{%- endmacro %}

{#- The customers a model applying trait changes computes again in an incremental build, as a subquery: the
    customers this build touched (their golden record, identifiers or suppression may have moved) and those
    whose trait_change_columns changed since the previous identity build started (a change seen by any run since,
    so a run of the traits between two builds loses nothing). With `memberships`, also the customers who entered
    or left a segment since (segment_memberships). -#}
{% macro trait_changed_customers(memberships=false) -%}
    {{ cdp.customers_touched() }}
    union
    select customer_id from {{ ref('int_customer_trait_changes') }}
    where changed_at > {{ cdp.previous_identity_build_started() }}
    {%- if memberships %}
    union
    select customer_id from {{ ref('segment_memberships') }}
    where entered_at > {{ cdp.previous_identity_build_started() }} or exited_at > {{ cdp.previous_identity_build_started() }}
    {%- endif %}
{%- endmacro %}

{#- The condition of a model applying trait changes: `column` is a customer of trait_changed_customers
    (incremental) or true (full). -#}
{% macro trait_rows_filter(column, memberships=false) -%}
    {#- Rendered before the mode is known, so dbt sees the refs when it parses the model. -#}
    {%- set refs = [cdp.customers_touched(), ref('int_customer_trait_changes')] -%}
    {%- if cdp.customer_changes_mode() == 'incremental' -%}
    {{ column }} in ({{ cdp.trait_changed_customers(memberships) }})
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a model applying trait changes: the rows of the customers of trait_changed_customers. -#}
{% macro trait_level_delete() -%}
    {{ cdp.customer_changes_delete('target_row.customer_id in (' ~ cdp.trait_changed_customers() ~ ')') }}
{%- endmacro %}

{#- Pre-hook of sync_profiles__customers: as trait_level_delete, and the customers who entered or left a segment. -#}
{% macro profile_level_delete() -%}
    {{ cdp.customer_changes_delete('target_row.customer_id in (' ~ cdp.trait_changed_customers(memberships=true) ~ ')') }}
{%- endmacro %}
