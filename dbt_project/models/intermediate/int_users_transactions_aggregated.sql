{{ config(materialized='table') }}

with windowed as (

    select * from {{ ref('int_transactions_windowed') }}

),

aggregated as (

    -- One pass over both windows; rows outside the window (look-back only) are skipped by the
    -- window_* macros.
    select
        user_id,
        window_days,
        {{ window_count() }} as transaction_count,
        {{ window_sum('-amount', 'is_spend') }} as total_spend,
        {{ window_sum('amount', 'is_savings_account') }} as net_savings_flow,
        {{ window_sum('amount', 'is_payroll_deposit') }} as payroll_income,
        {{ window_any('is_card_interest_charge') }} as interest_charges_present,
        {{ window_any('is_overdraft_or_late_fee') }} as overdraft_or_late_fee_present

    from windowed
    group by user_id, window_days

)

select * from aggregated
