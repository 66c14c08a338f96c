-- A consenting customer's monthly spend against the month before and the three months before
-- (docs/statements.md). Every month from the customer's first transaction to the as-of month has a
-- row, a month without spend at 0.
with transactions as (

    select * from {{ ref('int_transactions_analysed') }}

),

user_months as (

    select
        user_id,
        min(month_start) as first_month,
        cast(date_trunc('month', {{ as_of_date() }}) as date)
            as last_month

    from transactions
    group by user_id

),

calendar as (

    select
        user_id,
        {{ month_starts('first_month', 'last_month') }}

    from user_months

),

monthly_spend as (

    select
        user_id,
        month_start,
        sum(spend_amount) as spend

    from transactions
    group by user_id, month_start

),

filled as (

    select
        calendar.user_id,
        calendar.month_start,
        round(coalesce(monthly_spend.spend, 0), 2) as spend

    from calendar
    left join monthly_spend
        on calendar.user_id = monthly_spend.user_id
        and calendar.month_start = monthly_spend.month_start

),

compared as (

    select
        *,
        lag(spend) over (partition by user_id order by month_start) as previous_month_spend,
        avg(spend) over (
            partition by user_id order by month_start rows between 3 preceding and 1 preceding
        ) as previous_3_month_average,
        count(*) over (
            partition by user_id order by month_start rows between 3 preceding and 1 preceding
        ) as previous_months

    from filled

),

final as (

    select
        user_id,
        month_start as month,  -- noqa: RF04
        spend,
        round(spend - previous_month_spend, 2) as change_vs_previous_month,
        -- Only once three earlier months exist.
        case when previous_months = 3 then round(previous_3_month_average, 2) end as previous_3_month_average,
        case when previous_months = 3 then round(spend - previous_3_month_average, 2) end
            as change_vs_3_month_average

    from compared

)

select * from final
