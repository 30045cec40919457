with

source as (

    select * from {{ source('privacy', 'privacy_requests') }}

),

renamed as (

    select
        cast(request_id as {{ dbt.type_string() }}) as privacy_request_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        {{ cdp.clean_string('user_id') }} as user_id,
        lower({{ cdp.clean_string('request_type') }}) as request_type,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at

    from source

)

select * from renamed
