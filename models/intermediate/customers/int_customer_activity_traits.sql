{%- set changed = cdp.customers_touched() ~ ' union select customer_id from ' ~ ref('int_customer_traits_moved') -%}
{%- set changed_only = ('customer_id in (' ~ changed ~ ')') if cdp.customer_changes_mode() == 'incremental' else '1 = 1' -%}
{%- set windows = cdp.activity_trait_windows() -%}
{{ config(**cdp.incremental_mart_config(delete='activity_traits_delete', done='traits_as_of_done')) }}
-- The behavioural traits of each customer that are a function of its own records and the as-of date (orders,
-- revenue, email and web activity in 30/90-day windows, tickets, consents): what customer_traits scores.
-- Incremental (docs/customer_360.md, "Incremental builds"): a build writes again the rows of the customers it
-- touched and of those with activity on the boundary days of a moved as-of date (int_customer_traits_moved).
with

customers as (

    select customer_id from {{ ref('customers') }}
    where {{ changed_only }}

),

records as (

    select * from {{ ref('identity_records') }}
    where {{ changed_only }}

),

orders as (

    select
        records.customer_id,
        orders.*
    from {{ ref('int_orders_converted') }} as orders
    inner join records on records.source_table = 'stg_shop__orders' and orders.order_id = records.record_id

),

as_of as (

    {{ cdp.traits_as_of() }}

),

order_traits as (

    select
        customer_id,
        count(*) as orders,
        sum(reporting_order_amount) as revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(case when is_in_store then 1 end) as in_store_orders
    from orders
    cross join as_of
    where orders.is_completed and orders.ordered_at <= as_of.as_of_at
    group by orders.customer_id

),

email_events as (

    select
        records.customer_id,
        events.event_type,
        events.occurred_at
    from {{ ref('stg_esp__email_events') }} as events
    inner join records on records.source_table = 'stg_esp__email_events' and events.email_event_id = records.record_id

),

email_traits as (

    select
        email_events.customer_id,
        {% for event_type in ['open', 'click'] %}
            {% for days in windows.email_events %}
                count(
                    case when event_type = '{{ event_type }}' and occurred_at > {{ cdp.days_before(days, 'as_of.as_of_at') }} then 1 end
                ) as email_{{ event_type }}s_{{ days }}d,
            {% endfor %}
        {% endfor %}
        count(case when event_type = 'unsubscribe' then 1 end) > 0 as is_unsubscribed,
        count(case when event_type = 'bounce' then 1 end) > 0 as has_bounced
    from email_events
    cross join as_of
    where email_events.occurred_at <= as_of.as_of_at
    group by email_events.customer_id

),

web_sessions as (

    select
        records.customer_id,
        pages.anonymous_id,
        cast(pages.viewed_at as date) as viewed_date
    from {{ ref('stg_segment__pages') }} as pages
    inner join records on records.source_table = 'stg_segment__pages' and pages.page_id = records.record_id
    cross join as_of
    where pages.viewed_at > {{ cdp.days_before(windows.pages[0], 'as_of.as_of_at') }} and pages.viewed_at <= as_of.as_of_at

),

web_traits as (

    select
        customer_id,
        count(distinct {{ dbt.concat(['anonymous_id', "':'", 'cast(viewed_date as ' ~ dbt.type_string() ~ ')']) }}) as web_sessions_30d
    from web_sessions
    group by customer_id

),

ticket_traits as (

    select
        records.customer_id,
        count(*) as support_tickets
    from {{ ref('stg_support__tickets') }} as tickets
    inner join records on records.source_table = 'stg_support__tickets' and tickets.ticket_id = records.record_id
    group by records.customer_id

),

joined as (

    select
        customers.customer_id,
        coalesce(order_traits.orders, 0) as orders,
        cast(coalesce(order_traits.revenue, 0) as {{ cdp.type_double() }}) as revenue,
        cast(order_traits.revenue / nullif(order_traits.orders, 0) as {{ cdp.type_double() }}) as average_order_value,
        order_traits.first_order_at,
        order_traits.last_order_at,
        coalesce(order_traits.in_store_orders, 0) as in_store_orders,
        coalesce(email_traits.email_opens_30d, 0) as email_opens_30d,
        coalesce(email_traits.email_opens_90d, 0) as email_opens_90d,
        coalesce(email_traits.email_clicks_30d, 0) as email_clicks_30d,
        coalesce(email_traits.email_clicks_90d, 0) as email_clicks_90d,
        coalesce(email_traits.is_unsubscribed, false) as is_unsubscribed,
        coalesce(email_traits.has_bounced, false) as has_bounced,
        coalesce(web_traits.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(ticket_traits.support_tickets, 0) as support_tickets,
        coalesce(consents.has_email_consent, false) as has_email_consent,
        coalesce(consents.has_sms_consent, false) as has_sms_consent,
        coalesce(consents.has_ads_consent, false) as has_ads_consent,
        coalesce(consents.has_email_consent or consents.has_sms_consent or consents.has_ads_consent, false) as has_marketing_consent
    from customers
    left join order_traits on customers.customer_id = order_traits.customer_id
    left join email_traits on customers.customer_id = email_traits.customer_id
    left join web_traits on customers.customer_id = web_traits.customer_id
    left join ticket_traits on customers.customer_id = ticket_traits.customer_id
    left join {{ ref('int_customer_consents') }} as consents on customers.customer_id = consents.customer_id

)

select * from joined
