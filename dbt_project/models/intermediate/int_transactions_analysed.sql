-- A table: four marts and two data tests read it; as a view, each recomputed it (docs/performance.md).
{{ config(materialized='table') }}

-- Posted transactions of consenting customers up to the as-of date, shaped for the analytics marts
-- (docs/statements.md): month, category label, merchant key, spend and pay amounts. Spend and pay
-- follow the feature rules (docs/features.md): pay is a payroll-like credit on a cash account.
with transactions as (

    select * from {{ ref('int_transactions_unioned') }}

),

users as (

    select * from {{ ref('stg_spendsense__users') }}

),

accounts as (

    select * from {{ ref('stg_spendsense__accounts') }}

),

merchants as (

    select * from {{ ref('stg_spendsense__merchants') }}

),

consenting as (

    select user_id from users
    where is_customer and consent_status

),

posted as (

    select transactions.*
    from transactions
    inner join consenting
        on transactions.user_id = consenting.user_id
    where not transactions.is_pending
        and transactions.transaction_date <= {{ as_of_date() }}

),

final as (

    select
        posted.user_id,
        posted.account_id,
        posted.transaction_id,
        posted.transaction_source,
        posted.transaction_date,
        cast(date_trunc('month', posted.transaction_date) as date) as month_start,
        posted.amount,
        coalesce(lower(posted.category_primary), 'uncategorized') as category,
        -- The feed's names come keyed from the lookup; statement descriptions are keyed here.
        case
            when posted.transaction_source = 'statement' then {{ merchant_key('posted.merchant_name') }}
            else merchants.merchant_key
        end as merchant_key,
        posted.merchant_name,
        posted.is_spend,
        case when posted.is_spend then -posted.amount else 0 end as spend_amount,
        posted.is_payroll_like and coalesce(accounts.is_depository, false) as is_income,
        case
            when posted.is_payroll_like and coalesce(accounts.is_depository, false) then posted.amount else 0
        end as income_amount

    from posted
    left join accounts
        on posted.account_id = accounts.account_id
    left join merchants
        on posted.merchant_name = merchants.merchant_name

)

select * from final
