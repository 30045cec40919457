{{ config(**cdp.incremental_mart_config()) }}
-- The latest consent per customer and channel (email, sms, ads): latest recorded wins.
with

consents as (

    select * from {{ ref('stg_privacy__consents') }}

),

records as (

    select * from {{ ref('identity_records') }}
    where source_table = 'stg_privacy__consents' and {{ cdp.customer_rows_filter('customer_id') }}

),

ranked as (

    select
        records.customer_id,
        consents.consent_channel,
        consents.is_granted,
        consents.recorded_at,
        row_number() over (
            partition by records.customer_id, consents.consent_channel
            order by consents.recorded_at desc, consents.consent_id desc
        ) as recency_rank
    from consents
    inner join records on consents.consent_id = records.record_id

),

latest as (

    select
        customer_id,
        max(case when consent_channel = 'email' then case when is_granted then 1 else 0 end end) as email_consent,
        max(case when consent_channel = 'sms' then case when is_granted then 1 else 0 end end) as sms_consent,
        max(case when consent_channel = 'ads' then case when is_granted then 1 else 0 end end) as ads_consent
    from ranked
    where recency_rank = 1
    group by customer_id

)

select
    customer_id,
    coalesce(email_consent, 0) = 1 as has_email_consent,
    coalesce(sms_consent, 0) = 1 as has_sms_consent,
    coalesce(ads_consent, 0) = 1 as has_ads_consent
from latest
