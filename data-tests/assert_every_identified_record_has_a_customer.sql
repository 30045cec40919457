-- Every staging record that carries an identifier must be placed with exactly one customer.
with

identified_records as (

    select distinct
        source_table,
        record_id
    from {{ ref('int_identifiers_unioned') }}

),

missing as (

    select identified_records.*
    from identified_records
    left join {{ ref('identity_records') }} as placed
        on
            identified_records.source_table = placed.source_table
            and identified_records.record_id = placed.record_id
    where placed.customer_id is null

)

select * from missing
