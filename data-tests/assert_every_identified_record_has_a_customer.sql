-- Every staging record that carries an identifier must be placed with exactly one customer. An incremental
-- identity build reads only the records it changed: those read again from their source (their rows now) and
-- those ranked again. identity_records deletes and writes again only the rows of changed records, so no other
-- record can have lost its customer since the previous build (docs/customer_360.md, "Data tests on
-- incremental builds"); `dbt test` reads every record.
with

{% if cdp.identity_build_mode() == 'incremental' -%}
    identified_records as (

        select
            source_table,
            record_id
        from {{ ref('int_identity_record_changes') }}
        where change = 'new'
        union
        select
            validated.source_table,
            validated.record_id
        from {{ ref('int_identifiers_validated') }} as validated
        inner join {{ ref('int_identity_anchor_changes') }} as ranked
            on validated.source_table = ranked.source_table and validated.record_id = ranked.record_id

    ),
{%- else -%}
-- depends_on: {{ ref('int_identity_record_changes') }} {{ ref('int_identifiers_validated') }} {{ ref('int_identity_anchor_changes') }}
    identified_records as (

        select
            source_table,
            record_id
        from {{ ref('int_identifiers_unioned') }}

    ),
{%- endif %}

-- An anti-join over the identifier rows: only the records missing are made distinct, not every record read.
missing as (

    select distinct
        identified_records.source_table,
        identified_records.record_id
    from identified_records
    where not exists (
        select 1
        from {{ ref('identity_records') }} as placed
        where
            placed.source_table = identified_records.source_table
            and placed.record_id = identified_records.record_id
            and placed.customer_id is not null
    )

)

select * from missing
