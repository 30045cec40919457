{{ config(**cdp.incremental_mart_config()) }}
-- Every postal address a customer was given, one row per source record with a street: CRM contacts (crm).
-- Survivorship (vars.cdp_survivorship.address) picks one whole address in int_customer_golden_attributes.
with

records as (

    select * from {{ ref('identity_records') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

crm_addresses as (

    select
        records.customer_id,
        contacts.contact_id as record_id,
        'crm' as source,
        contacts.updated_at as observed_at,
        contacts.street,
        contacts.city,
        contacts.postal_code,
        contacts.country_code
    from {{ ref('stg_crm__contacts') }} as contacts
    inner join records on records.source_table = 'stg_crm__contacts' and contacts.contact_id = records.record_id
    where contacts.street is not null

)

select * from crm_addresses
