-- Every transaction the features and analytics read: the JSON feed, and the CSV statement rows that
-- are accepted and not a duplicate of the feed or of an earlier statement (docs/statements.md).
-- The one place statements join the transaction flow; both sides use the spendsense sign convention.
-- A table on Spark: the statement verdicts read it back as Parquet (lib/core/marts_reader.py).
{{ config(materialized='table' if target.type == 'spark' else 'view') }}
with feed_transactions as (

    select * from {{ ref('stg_spendsense__transactions') }}

),

statement_transactions as (

    select * from {{ ref('int_statement_rows_categorised') }}

),

statement_verdicts as (

    select * from {{ ref('int_statement_rows_deduplicated') }}
    where status = 'accepted'

),

from_feed as (

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
        is_outflow,
        is_transfer_like,
        is_credit_card_payment,
        is_loan_payment,
        is_savings_deposit,
        is_interest_charge,
        is_overdraft_or_late_fee,
        is_spend,
        is_payroll_like,
        'feed' as transaction_source

    from feed_transactions

),

from_statements as (

    select
        statement_verdicts.transaction_id,
        statement_transactions.account_id,
        statement_transactions.user_id,
        statement_transactions.transaction_date,
        statement_transactions.amount,
        statement_transactions.description_text as merchant_name,
        cast(null as string) as merchant_entity_id,
        cast(null as string) as payment_channel,
        statement_transactions.category_primary,
        statement_transactions.category_detailed,
        statement_transactions.is_pending,
        cast(null as timestamp) as created_at,
        statement_transactions.is_outflow,
        statement_transactions.is_transfer_like,
        statement_transactions.is_credit_card_payment,
        statement_transactions.is_loan_payment,
        statement_transactions.is_savings_deposit,
        statement_transactions.is_interest_charge,
        statement_transactions.is_overdraft_or_late_fee,
        statement_transactions.is_spend,
        statement_transactions.is_payroll_like,
        'statement' as transaction_source

    from statement_transactions
    inner join statement_verdicts
        on statement_transactions.statement_file = statement_verdicts.statement_file
        and statement_transactions.line_number = statement_verdicts.line_number

),

unioned as (

    select * from from_feed
    union all
    select * from from_statements

)

select * from unioned
