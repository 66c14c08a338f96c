with users as (

    select * from {{ ref('stg_spendsense__users') }}

),

final as (

    -- No name or email: this table is exported and read by the recommendation stage.
    select
        user_id,
        user_type,
        is_customer,
        consent_status,
        consent_granted_at,
        consent_revoked_at,
        age_band,
        region

    from users

)

select * from final
