with source as (

    select * from {{ source('raw', 'users') }}

),

renamed as (

    select
        user_id,
        full_name,
        email,
        lower(trim(user_type)) as user_type,
        lower(trim(user_type)) = 'customer' as is_customer,
        lower(trim(user_type)) = 'operator' as is_operator,
        coalesce(consent_status, false) as consent_status,
        consent_granted_at,
        consent_revoked_at,
        age_band,
        region,
        created_at

    from source

)

select * from renamed
