with transactions as (

    select * from {{ ref('int_transactions_unioned') }}

),

accounts as (

    select * from {{ ref('stg_spendsense__accounts') }}

),

-- Same macro as int_windows_defined: inline so this model reads no other intermediate model.
windows as (

    {{ feature_windows() }}

),

posted as (

    -- Pending transactions may still change: excluded from every feature (docs/features.md).
    select * from transactions
    where not is_pending

),

classified as (

    select
        posted.transaction_id,
        posted.user_id,
        posted.account_id,
        posted.transaction_date,
        posted.amount,
        posted.is_spend,
        posted.is_overdraft_or_late_fee,
        coalesce(accounts.is_savings_like, false) as is_savings_account,
        posted.is_interest_charge and coalesce(accounts.is_credit_card, false) as is_card_interest_charge,
        -- Pay lands on a cash account: a "payroll" credit on a card is a refund, not income.
        posted.is_payroll_like and coalesce(accounts.is_depository, false) as is_payroll_deposit

    from posted
    left join accounts
        on posted.account_id = accounts.account_id

),

windowed as (

    -- One row per (transaction, window) for every transaction in the window's look-back, so both
    -- windows come out of one query; is_in_window marks D - W < date <= D.
    select
        classified.*,
        windows.window_days,
        classified.transaction_date >= windows.window_start_date as is_in_window

    from classified
    inner join windows
        on classified.transaction_date >= windows.lookback_start_date
        and classified.transaction_date <= windows.as_of_date

)

select * from windowed
