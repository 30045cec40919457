{%- set as_of_var = var('cdp_as_of_date', '') -%}
-- Behavioural traits per customer, computed as of var cdp_as_of_date (default: the latest order date, so a
-- rebuild of the same data gives the same traits). Suppressed customers are left out.
with

customers as (

    select customer_id from {{ ref('customers') }}

),

records as (

    select * from {{ ref('identity_records') }}

),

orders as (

    select
        records.customer_id,
        orders.*
    from {{ ref('int_orders_converted') }} as orders
    inner join records on records.source_table = 'stg_shop__orders' and orders.order_id = records.record_id

),

as_of as (

    {%- if as_of_var %}
        select cast('{{ as_of_var }}' as {{ dbt.type_timestamp() }}) as as_of_at
    {%- else %}
        select max(ordered_at) as as_of_at from {{ ref('int_orders_converted') }}
    {%- endif %}

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
        count(case when event_type = 'open' and occurred_at > {{ dbt.dateadd('day', -30, 'as_of.as_of_at') }} then 1 end) as email_opens_30d,
        count(case when event_type = 'open' and occurred_at > {{ dbt.dateadd('day', -90, 'as_of.as_of_at') }} then 1 end) as email_opens_90d,
        count(case when event_type = 'click' and occurred_at > {{ dbt.dateadd('day', -30, 'as_of.as_of_at') }} then 1 end) as email_clicks_30d,
        count(case when event_type = 'click' and occurred_at > {{ dbt.dateadd('day', -90, 'as_of.as_of_at') }} then 1 end) as email_clicks_90d,
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
    where pages.viewed_at > {{ dbt.dateadd('day', -30, 'as_of.as_of_at') }} and pages.viewed_at <= as_of.as_of_at

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
        cast({{ dbt.datediff('order_traits.last_order_at', 'as_of.as_of_at', 'day') }} as {{ dbt.type_bigint() }}) as days_since_last_order,
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
        coalesce(consents.has_email_consent or consents.has_sms_consent or consents.has_ads_consent, false) as has_marketing_consent,
        as_of.as_of_at
    from customers
    cross join as_of
    left join order_traits on customers.customer_id = order_traits.customer_id
    left join email_traits on customers.customer_id = email_traits.customer_id
    left join web_traits on customers.customer_id = web_traits.customer_id
    left join ticket_traits on customers.customer_id = ticket_traits.customer_id
    left join {{ ref('int_customer_consents') }} as consents on customers.customer_id = consents.customer_id

),

scored as (

    -- RFM quintiles among customers with orders (5 is best); ties broken by customer_id, so every warehouse agrees.
    select
        joined.*,
        cast(case when orders > 0 then ntile(5) over (partition by orders > 0 order by days_since_last_order desc, customer_id asc) end as {{ dbt.type_bigint() }}) as recency_score,
        cast(case when orders > 0 then ntile(5) over (partition by orders > 0 order by orders, customer_id) end as {{ dbt.type_bigint() }}) as frequency_score,
        cast(case when orders > 0 then ntile(5) over (partition by orders > 0 order by revenue, customer_id) end as {{ dbt.type_bigint() }}) as monetary_score
    from joined

),

prediction_inputs as (

    -- Predictive scores (docs/customer_360.md), for buyers: x repeat orders, t_x the day of the last order and
    -- T the day of as_of_at, both counted in days from the first order.
    select
        customer_id,
        cast(orders as {{ cdp.type_double() }}) as orders,
        revenue,
        cast(orders - 1 as {{ cdp.type_double() }}) as repeat_orders,
        cast({{ dbt.datediff('first_order_at', 'last_order_at', 'day') }} as {{ cdp.type_double() }}) as last_order_day,
        cast({{ dbt.datediff('first_order_at', 'as_of_at', 'day') }} as {{ cdp.type_double() }}) as tenure_days
    from joined
    where orders > 0

),

population as (

    -- Gamma prior of the repeat-order rate: r = 1 pseudo repeat order over alpha days, alpha chosen so that the
    -- prior mean r / alpha is the pooled rate of all buyers (repeat orders per day of tenure), and at least a day.
    -- The buyers' mean order value is the prior of each customer's order value.
    select
        greatest(sum(tenure_days) / greatest(sum(repeat_orders), 1), 1) as alpha_days,
        sum(revenue) / sum(orders) as mean_order_value
    from prediction_inputs

),

predicted as (

    -- MBG/NBD probability of being alive: 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ^ (r + x)), with
    -- the dropout prior a = 0.793, b = 2.426 and r = 1; the exponent is capped so no warehouse overflows.
    -- Posterior rate (r + x) / (alpha + T); order value shrunk towards the mean by one pseudo order.
    select
        inputs.customer_id,
        1.0 / (
            1.0 + 0.793 / (2.426 + inputs.repeat_orders) * exp(least(
                500.0,
                (1.0 + inputs.repeat_orders)
                * ln((population.alpha_days + inputs.tenure_days) / (population.alpha_days + inputs.last_order_day))
            ))
        ) as probability_alive,
        (1.0 + inputs.repeat_orders) / (population.alpha_days + inputs.tenure_days) as orders_per_day,
        (inputs.revenue + population.mean_order_value) / (inputs.orders + 1.0) as expected_order_value
    from prediction_inputs as inputs
    cross join population

),

final as (

    select
        scored.*,
        cast(1.0 - predicted.probability_alive as {{ cdp.type_double() }}) as churn_risk,
        cast(predicted.probability_alive * predicted.orders_per_day * 90.0 as {{ cdp.type_double() }}) as expected_orders_90d,
        cast(
            predicted.probability_alive * predicted.orders_per_day * 90.0 * predicted.expected_order_value
            as {{ cdp.type_double() }}
        ) as expected_value_90d
    from scored
    left join predicted on scored.customer_id = predicted.customer_id

)

select * from final
