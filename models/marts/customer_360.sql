-- One wide row per customer for BI: the golden record (customers), every trait and score (customer_traits),
-- the household's size, the segments the customer is in now and whether they were active in the last 30 days.
-- A customer is a row of `customers` (an identity component that has not asked to be forgotten); this table has
-- exactly those rows, so every count over it agrees with the other marts (docs/customer_360.md, "Counting
-- customers").
with

customers as (

    select * from {{ ref('customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

households as (

    select
        household_id,
        members as household_members
    from {{ ref('households') }}

),

current_segments as (

    select
        customer_id,
        {{ cdp.string_array_agg('segment_name') }} as current_segments,
        count(*) as segment_count
    from {{ ref('segment_memberships') }}
    where exited_at is null
    group by customer_id

),

last_events as (

    select * from {{ ref('int_customer_last_events') }}

),

joined as (

    select
        customers.*,
        cast(households.household_members as {{ dbt.type_bigint() }}) as household_members,
        traits.orders,
        traits.revenue,
        traits.average_order_value,
        traits.first_order_at,
        traits.last_order_at,
        traits.days_since_last_order,
        traits.in_store_orders,
        traits.email_opens_30d,
        traits.email_opens_90d,
        traits.email_clicks_30d,
        traits.email_clicks_90d,
        traits.is_unsubscribed,
        traits.has_bounced,
        traits.web_sessions_30d,
        traits.support_tickets,
        traits.has_email_consent,
        traits.has_sms_consent,
        traits.has_ads_consent,
        traits.has_marketing_consent,
        traits.recency_score,
        traits.frequency_score,
        traits.monetary_score,
        traits.churn_risk,
        traits.expected_orders_90d,
        traits.expected_value_90d,
        traits.as_of_at,
        last_events.last_event_at,
        coalesce(
            last_events.last_event_at > {{ dbt.dateadd('day', -30, 'traits.as_of_at') }}
            and last_events.last_event_at <= traits.as_of_at,
            false
        ) as is_active_30d,
        current_segments.current_segments,
        cast(coalesce(current_segments.segment_count, 0) as {{ dbt.type_bigint() }}) as segment_count
    from customers
    inner join traits on customers.customer_id = traits.customer_id
    left join households on customers.household_id = households.household_id
    left join current_segments on customers.customer_id = current_segments.customer_id
    left join last_events on customers.customer_id = last_events.customer_id

)

select * from joined
