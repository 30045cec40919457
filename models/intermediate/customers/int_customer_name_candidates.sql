{{ config(**cdp.incremental_mart_config()) }}
-- Every name a customer was given, one row per source record: CRM contacts (crm) and web identify traits and
-- the loader's users table (web). Survivorship (vars.cdp_survivorship.name) picks one in int_customer_golden_attributes.
with

records as (

    select * from {{ ref('identity_records') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

crm_names as (

    select
        records.customer_id,
        contacts.contact_id as record_id,
        'crm' as source,
        contacts.updated_at as observed_at,
        contacts.first_name,
        contacts.last_name
    from {{ ref('stg_crm__contacts') }} as contacts
    inner join records on records.source_table = 'stg_crm__contacts' and contacts.contact_id = records.record_id
    where contacts.first_name is not null or contacts.last_name is not null

),

web_names as (

    select
        records.customer_id,
        identifies.identify_id as record_id,
        'web' as source,
        identifies.identified_at as observed_at,
        identifies.first_name,
        identifies.last_name
    from {{ ref('stg_segment__identifies') }} as identifies
    inner join records on records.source_table = 'stg_segment__identifies' and identifies.identify_id = records.record_id
    where identifies.first_name is not null or identifies.last_name is not null

),

user_names as (

    select
        records.customer_id,
        users.user_id as record_id,
        'web' as source,
        users.received_at as observed_at,
        users.first_name,
        users.last_name
    from {{ ref('stg_segment__users') }} as users
    inner join records on records.source_table = 'stg_segment__users' and users.user_id = records.record_id
    where users.first_name is not null or users.last_name is not null

),

candidates as (

    select * from crm_names
    union all
    select * from web_names
    union all
    select * from user_names

)

select * from candidates
