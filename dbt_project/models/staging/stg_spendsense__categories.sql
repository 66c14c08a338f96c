{{ config(materialized='table') }}

{%- set patterns = category_patterns() %}

-- One row per distinct (category_primary, category_detailed) pair of raw.transactions, with the
-- flags the features read. A lookup table of a few dozen rows: the patterns run once per pair
-- instead of once per transaction, and a table the optimizer knows is tiny keeps the join in
-- stg_spendsense__transactions cheap at 20 M rows.
with category_pairs as (

    select distinct
        category_primary,
        category_detailed

    from {{ source('raw', 'transactions') }}

),

labelled as (

    select
        *,
        lower(coalesce(category_primary, '') || ' ' || coalesce(category_detailed, '')) as category_text

    from category_pairs

),

flagged as (

    select
        category_primary,
        category_detailed,
        regexp_matches(category_text, '{{ patterns.transfer }}') as is_transfer_like,
        regexp_matches(category_text, '{{ patterns.credit_card_payment }}') as is_credit_card_payment,
        regexp_matches(category_text, '{{ patterns.loan_payment }}') as is_loan_payment,
        regexp_matches(category_text, '{{ patterns.savings_deposit }}') as is_savings_deposit,
        regexp_matches(category_text, '{{ patterns.interest }}') as has_interest_category,
        (
            regexp_matches(category_text, '{{ patterns.fee }}')
            and not regexp_matches(category_text, '{{ patterns.interest }}')
        ) as has_fee_category,
        -- Income, payroll, salary or wages; interest earned, dividends, refunds and transfers are not pay.
        (
            regexp_matches(category_text, '{{ patterns.income }}')
            and not regexp_matches(category_text, '{{ patterns.not_pay_income }}')
        ) as has_pay_category

    from labelled

)

select * from flagged
