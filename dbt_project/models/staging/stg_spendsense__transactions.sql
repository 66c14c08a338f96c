{%- set patterns = category_patterns() -%}
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
        amount < 0 as is_outflow,
        is_transfer_like,
        is_credit_card_payment,
        is_loan_payment,
        is_savings_deposit,
        amount < 0 and has_interest_category as is_interest_charge,
        amount < 0 and has_fee_category as is_overdraft_or_late_fee,
        -- Spend (docs/features.md): outflows except moves between own accounts and debt / card payments.
        (
            amount < 0
            and not (is_transfer_like or is_credit_card_payment or is_loan_payment or is_savings_deposit)
        ) as is_spend,
        -- The income rule (docs/features.md) minus the account check (added by int_transactions_windowed):
        -- an inflow labelled income / payroll / salary, or from a merchant saying PAYROLL, SALARY or
        -- DIRECT DEP. A plain ACH deposit or a transfer from one's own account is not pay. The case
        -- keeps the merchant expression to inflows, a few percent of the rows.
        case
            when amount > 0
                then (
                    has_pay_category
                    or coalesce(
                        regexp_matches(lower(merchant_name), '{{ patterns.payroll_merchant }}'), false
                    )
                )
            else false
        end as is_payroll_like

    from categorised

)

select * from final
