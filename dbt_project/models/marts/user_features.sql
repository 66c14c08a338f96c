with users as (

    select * from {{ ref('stg_spendsense__users') }}

),

windows as (

    select * from {{ ref('int_windows_defined') }}

),

transaction_aggregates as (

    select * from {{ ref('int_users_transactions_aggregated') }}

),

payroll as (

    select * from {{ ref('int_users_payroll_detected') }}

),

accounts as (

    select * from {{ ref('int_users_accounts_summarised') }}

),

recurring_streams as (

    select * from {{ ref('int_recurring_streams_detected') }}

),

recurring_summary as (

    select
        user_id,
        window_days,
        count(*) filter (where is_active_in_window) as recurring_merchants,
        coalesce(sum(monthly_cost) filter (where is_active_in_window), 0) as monthly_recurring_spend,
        sum(spend_in_window) as recurring_spend_in_window

    from recurring_streams
    group by user_id, window_days

),

customer_windows as (

    -- Every customer gets a row per window, with or without transactions; operators get none.
    select
        users.user_id,
        windows.*

    from users
    cross join windows
    where users.is_customer

),

joined as (

    -- Money to cents, ratios to 4 decimals, before any flag or rule reads them: the numbers a
    -- rationale quotes are the numbers the rules compared.
    select
        customer_windows.user_id,
        customer_windows.window_days,
        customer_windows.as_of_date,
        customer_windows.window_start_date,
        customer_windows.lookback_days,
        customer_windows.months,
        round(coalesce(transaction_aggregates.total_spend, 0), 2) as total_spend,
        coalesce(transaction_aggregates.transaction_count, 0) as transaction_count,
        round(coalesce(transaction_aggregates.net_savings_flow, 0), 2) as net_savings_flow,
        round(coalesce(transaction_aggregates.payroll_income, 0), 2) as payroll_income,
        coalesce(transaction_aggregates.interest_charges_present, false) as interest_charges_present,
        coalesce(
            transaction_aggregates.overdraft_or_late_fee_present, false
        ) as overdraft_or_late_fee_present,
        coalesce(recurring_summary.recurring_merchants, 0) as recurring_merchants,
        round(coalesce(recurring_summary.monthly_recurring_spend, 0), 2) as monthly_recurring_spend,
        round(coalesce(recurring_summary.recurring_spend_in_window, 0), 2) as recurring_spend_in_window,
        round(coalesce(accounts.total_savings_balance, 0), 2) as total_savings_balance,
        round(coalesce(accounts.checking_balance, 0), 2) as checking_balance,
        coalesce(accounts.investment_account_detected, false) as investment_account_detected,
        coalesce(accounts.credit_card_count, 0) as credit_card_count,
        round(accounts.avg_utilization, 4) as avg_utilization,
        round(accounts.max_utilization, 4) as max_utilization,
        coalesce(accounts.minimum_payment_only_flag, false) as minimum_payment_only_flag,
        coalesce(accounts.any_overdue, false) as any_overdue,
        round(coalesce(accounts.estimated_monthly_interest, 0), 2) as estimated_monthly_interest,
        coalesce(payroll.payroll_detected, false) as payroll_detected,
        coalesce(payroll.payroll_deposit_count, 0) as payroll_deposit_count,
        payroll.median_pay_gap_days,
        payroll.pay_frequency,
        round(payroll.income_variability, 4) as income_variability

    from customer_windows
    left join transaction_aggregates
        on customer_windows.user_id = transaction_aggregates.user_id
        and customer_windows.window_days = transaction_aggregates.window_days
    left join recurring_summary
        on customer_windows.user_id = recurring_summary.user_id
        and customer_windows.window_days = recurring_summary.window_days
    left join payroll
        on customer_windows.user_id = payroll.user_id
        and customer_windows.window_days = payroll.window_days
    left join accounts
        on customer_windows.user_id = accounts.user_id

),

derived as (

    select
        *,
        round(total_spend / months, 2) as avg_monthly_spend,
        round(net_savings_flow / months, 2) as net_savings_inflow,
        round(payroll_income / months, 2) as avg_monthly_income,
        -- Balance at window start = balance now - net flow in the window (docs/features.md).
        total_savings_balance - net_savings_flow as savings_start_balance

    from joined

),

ratios as (

    select
        *,
        -- Recurring charges are a subset of spend, so the share stays in [0, 1]; 0 with no spend.
        case
            when total_spend > 0 then round(recurring_spend_in_window / total_spend, 4) else 0
        end as subscription_spend_share,
        -- No growth rate from a zero or negative start: that would invent "100 %" (docs/features.md).
        case
            when savings_start_balance > 0 then round(net_savings_flow / savings_start_balance, 4)
        end as savings_growth_rate,
        round({{ safe_divide('total_savings_balance', 'avg_monthly_spend') }}, 2) as emergency_fund_months,
        round({{ safe_divide('checking_balance', 'avg_monthly_spend') }}, 2) as cash_flow_buffer_months,
        -- Flag names carry their thresholds (30 / 50 / 80 %); a customer without a card has none.
        coalesce(max_utilization >= 0.30, false) as utilization_30_flag,
        coalesce(max_utilization >= 0.50, false) as utilization_50_flag,
        coalesce(max_utilization >= 0.80, false) as utilization_80_flag

    from derived

),

behaviors as (

    select
        *,
        -- How many of twelve named behaviours hold (docs/features.md) (the coverage metric counts >= 3).
        (recurring_merchants >= 1)::integer
        + (net_savings_inflow > 0)::integer
        + coalesce(max_utilization > 0, false)::integer
        + utilization_30_flag::integer
        + interest_charges_present::integer
        + minimum_payment_only_flag::integer
        + any_overdue::integer
        + (payroll_detected and coalesce(pay_frequency <> 'irregular', false))::integer
        + coalesce(median_pay_gap_days > {{ var('behavior_irregular_income_min_gap_days') }}, false)::integer
        + coalesce(cash_flow_buffer_months < {{ var('behavior_low_cash_buffer_max_months') }}, false)::integer
        + coalesce(emergency_fund_months >= {{ var('behavior_emergency_fund_min_months') }}, false)::integer
        + investment_account_detected::integer
            as detected_behaviors

    from ratios

),

final as (

    select
        user_id,
        window_days,
        as_of_date,
        window_start_date,
        lookback_days,
        total_spend,
        avg_monthly_spend,
        transaction_count,
        recurring_merchants,
        monthly_recurring_spend,
        subscription_spend_share,
        net_savings_inflow,
        savings_growth_rate,
        total_savings_balance,
        emergency_fund_months,
        credit_card_count,
        avg_utilization,
        max_utilization,
        utilization_30_flag,
        utilization_50_flag,
        utilization_80_flag,
        minimum_payment_only_flag,
        interest_charges_present,
        any_overdue,
        estimated_monthly_interest,
        payroll_detected,
        payroll_deposit_count,
        median_pay_gap_days,
        pay_frequency,
        income_variability,
        avg_monthly_income,
        checking_balance,
        cash_flow_buffer_months,
        investment_account_detected,
        overdraft_or_late_fee_present,
        detected_behaviors

    from behaviors

)

select * from final
