{{ config(materialized='incremental', unique_key='customer_id', incremental_strategy='delete+insert',
    on_schema_change='append_new_columns', post_hook="{{ cdp.customer_changes_done() }}") }}
{#- The change set of customer_traits for the models that apply only the customers whose traits changed
    (docs/customer_360.md, "Incremental builds"): one row per customer ever in customer_traits, with a hash of
    the columns those models read (cdp.trait_change_columns) and when a run last saw it change (`changed_at`, the
    run's start). A customer who left customer_traits (merged, split, forgotten) keeps a row with a null hash.
    Each run compares every row of customer_traits with the table's own rows and writes only what differs; a
    first build or --full-refresh writes every row, stamped with its run. -#}
{%- set run_at = cdp.run_started_at_timestamp() %}

with

current_hashes as (

    select
        traits.customer_id,
        {{ cdp.trait_row_hash('traits') }} as row_hash
    from {{ ref('customer_traits') }} as traits

),

{% if is_incremental() %}

    changed as (

        select
            coalesce(current_hashes.customer_id, previous.customer_id) as customer_id,
            current_hashes.row_hash
        from current_hashes
        full outer join {{ this }} as previous on current_hashes.customer_id = previous.customer_id
        where
            (current_hashes.customer_id is null and previous.row_hash is not null)
            or (
                current_hashes.customer_id is not null
                and (previous.row_hash is null or previous.row_hash <> current_hashes.row_hash)
            )

    )

{% else %}

    changed as (

        select * from current_hashes

    )

{% endif %}

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(row_hash as {{ dbt.type_string() }}) as row_hash,
    {{ run_at }} as changed_at
from changed
