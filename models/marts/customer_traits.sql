-- Behavioural traits and scores per customer, computed as of var cdp_as_of_date (default: the latest order date,
-- so a rebuild of the same data gives the same traits). Suppressed customers are left out. The per-customer
-- traits come from int_customer_activity_traits (incremental); what depends on every customer or on the as-of
-- date alone (days since the last order, RFM quintiles, the predictive scores' population prior) is computed
-- here over that one narrow table on every build.
with

activity as (

    select * from {{ ref('int_customer_activity_traits') }}

),

as_of as (

    {{ cdp.traits_as_of() }}

),

joined as (

    select
        activity.customer_id,
        activity.orders,
        activity.revenue,
        activity.average_order_value,
        activity.first_order_at,
        activity.last_order_at,
        cast({{ dbt.datediff('activity.last_order_at', 'as_of.as_of_at', 'day') }} as {{ dbt.type_bigint() }}) as days_since_last_order,
        activity.in_store_orders,
        activity.email_opens_30d,
        activity.email_opens_90d,
        activity.email_clicks_30d,
        activity.email_clicks_90d,
        activity.is_unsubscribed,
        activity.has_bounced,
        activity.web_sessions_30d,
        activity.support_tickets,
        activity.has_email_consent,
        activity.has_sms_consent,
        activity.has_ads_consent,
        activity.has_marketing_consent,
        as_of.as_of_at
    from activity
    cross join as_of

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
