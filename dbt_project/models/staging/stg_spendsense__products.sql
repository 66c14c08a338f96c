with source as (

    select * from {{ source('raw', 'products') }}

),

renamed as (

    select
        product_id,
        product_name,
        product_type,
        category as product_category,
        persona_targets,
        min_income,
        max_credit_utilization,
        coalesce(requires_no_existing_savings, false) as requires_no_existing_savings,
        coalesce(requires_no_existing_investment, false) as requires_no_existing_investment,
        short_description,
        benefits,
        typical_apy_or_fee,
        partner_name,
        partner_link,
        disclosure,
        priority,
        coalesce(active, true) as is_active

    from source

)

select * from renamed
