{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- Customers we may email: a primary email and granted email consent. Suppressed customers are already gone
-- from the marts this reads. The activation models for CRM and email destinations start here. Applies only the
-- customers whose rows may have changed (cdp.trait_rows_filter): it reads no trait column but those of
-- cdp.trait_change_columns.
with

customers as (

    select * from {{ ref('customers') }}
    where {{ cdp.trait_rows_filter('customer_id') }}

),

traits as (

    select * from {{ ref('customer_traits') }}
    where {{ cdp.trait_rows_filter('customer_id') }}

),

contactable as (

    select
        customers.*,
        traits.orders,
        traits.revenue,
        traits.recency_score
    from customers
    inner join traits on customers.customer_id = traits.customer_id
    where customers.primary_email is not null and traits.has_email_consent

)

select * from contactable
