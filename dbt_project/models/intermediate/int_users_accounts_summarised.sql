with accounts as (

    select * from {{ ref('stg_spendsense__accounts') }}

),

liabilities as (

    select * from {{ ref('stg_spendsense__liabilities') }}

),

latest_liability_per_account as (

    -- A card has one liability row; should a feed repeat it, the latest is the card's state.
    select * from liabilities
    qualify
        row_number() over (
            partition by account_id
            order by created_at desc nulls last, liability_id desc
        ) = 1

),

cards as (

    select
        accounts.user_id,
        accounts.account_id,
        greatest(coalesce(accounts.balance_current, 0), 0) as balance_owed,
        -- Only a positive limit gives a utilisation; a credit balance (negative) owes nothing.
        case
            when accounts.balance_limit > 0
                then greatest(coalesce(accounts.balance_current, 0), 0) / accounts.balance_limit
        end as utilization,
        latest_liability_per_account.apr_purchase,
        latest_liability_per_account.minimum_payment_amount,
        latest_liability_per_account.last_payment_amount,
        coalesce(latest_liability_per_account.is_overdue, false) as is_overdue

    from accounts
    left join latest_liability_per_account
        on accounts.account_id = latest_liability_per_account.account_id
    where accounts.is_credit_card

),

card_summary as (

    select
        user_id,
        count(*) as credit_card_count,
        avg(utilization) as avg_utilization,
        max(utilization) as max_utilization,
        coalesce(bool_or(
            balance_owed > 0
            and last_payment_amount <= minimum_payment_amount + {{ var('minimum_payment_tolerance') }}
        ), false) as minimum_payment_only_flag,
        bool_or(is_overdue) as any_overdue,
        sum(balance_owed * coalesce(apr_purchase, 0) / 100 / 12) as estimated_monthly_interest

    from cards
    group by user_id

),

balance_summary as (

    select
        user_id,
        coalesce(sum(balance_current) filter (where is_savings_like), 0) as total_savings_balance,
        count(*) filter (where is_savings_like) as savings_account_count,
        coalesce(sum(balance_current) filter (where is_checking), 0) as checking_balance,
        coalesce(bool_or(is_investment), false) as investment_account_detected

    from accounts
    group by user_id

),

final as (

    select
        balance_summary.*,
        coalesce(card_summary.credit_card_count, 0) as credit_card_count,
        card_summary.avg_utilization,
        card_summary.max_utilization,
        coalesce(card_summary.minimum_payment_only_flag, false) as minimum_payment_only_flag,
        coalesce(card_summary.any_overdue, false) as any_overdue,
        coalesce(card_summary.estimated_monthly_interest, 0) as estimated_monthly_interest

    from balance_summary
    left join card_summary
        on balance_summary.user_id = card_summary.user_id

)

select * from final
