-- A consenting customer's merchants ranked by spend in each feature window (docs/statements.md).
with transactions as (

    select * from {{ ref('int_transactions_analysed') }}
    where is_spend and merchant_key is not null

),

windows as (

    select * from {{ ref('int_windows_defined') }}

),

per_merchant as (

    select
        transactions.user_id,
        windows.window_days,
        transactions.merchant_key as merchant,
        -- A readable spelling: the first raw name in sort order.
        min(trim(transactions.merchant_name)) as merchant_name,
        round(sum(transactions.spend_amount), 2) as spend,
        count(*) as visits

    from transactions
    inner join windows
        on transactions.transaction_date >= windows.window_start_date
        and transactions.transaction_date <= windows.as_of_date
    group by transactions.user_id, windows.window_days, transactions.merchant_key

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_id, window_days order by spend desc, visits desc, merchant asc
        ) as merchant_rank

    from per_merchant

),

final as (

    select
        user_id,
        window_days,
        merchant_rank as rank,
        merchant,
        merchant_name,
        spend,
        visits

    from ranked
    where merchant_rank <= {{ var('top_merchants_limit') }}

)

select * from final
