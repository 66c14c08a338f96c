{#- The sign convention: the var when given, else the one the ingest recorded in raw.run_context. -#}
{%- set amount_convention = var('amount_convention', none) -%}
{%- if amount_convention is not none and amount_convention not in ('spendsense', 'plaid') -%}
    {{ exceptions.raise_compiler_error(
        "var amount_convention must be 'spendsense' or 'plaid', got '" ~ amount_convention ~ "'"
    ) }}
{%- endif -%}
{%- set run_context_convention = "(select amount_convention from " ~ source('raw', 'run_context') ~ ")" -%}
{%- set given_convention = "'" ~ amount_convention ~ "'" -%}
{%- set amount_convention_sql = run_context_convention if amount_convention is none else given_convention -%}

with source as (

    select * from {{ source('raw', 'transactions') }}

),

categories as (

    select * from {{ ref('stg_spendsense__categories') }}

),

renamed as (

    select
        transaction_id,
        account_id,
        user_id,
        date as transaction_date,
        -- Every model downstream reads the spendsense convention: amount < 0 is money leaving.
        case when {{ amount_convention_sql }} = 'plaid' then -amount else amount end as amount,
        merchant_name,
        merchant_entity_id,
        payment_channel,
        category_primary,
        category_detailed,
        coalesce(pending, false) as is_pending,
        created_at

    from source

),

categorised as (

    select
        renamed.*,
        coalesce(categories.is_transfer_like, false) as is_transfer_like,
        coalesce(categories.is_credit_card_payment, false) as is_credit_card_payment,
        coalesce(categories.is_loan_payment, false) as is_loan_payment,
        coalesce(categories.is_savings_deposit, false) as is_savings_deposit,
        coalesce(categories.has_interest_category, false) as has_interest_category,
        coalesce(categories.has_fee_category, false) as has_fee_category,
        coalesce(categories.has_pay_category, false) as has_pay_category

    from renamed
    left join categories
        on renamed.category_primary is not distinct from categories.category_primary
        and renamed.category_detailed is not distinct from categories.category_detailed

),

final as (

    select
        transaction_id,
        account_id,
        user_id,
        transaction_date,
        amount,
        merchant_name,
        merchant_entity_id,
        payment_channel,
        category_primary,
        category_detailed,
        is_pending,
        created_at,
        {{ transaction_flags('merchant_name') }}

    from categorised

)

select * from final
