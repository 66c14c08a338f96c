{{ config(materialized='table') }}
{#- Median pay gap ranges (days) of each cadence, e.g. "5 and 9" (vars in dbt_project.yml). #}
{%- set weekly_gaps = var('pay_weekly_min_gap_days') ~ ' and ' ~ var('pay_weekly_max_gap_days') %}
{%- set semi_monthly_gaps =
    var('pay_semi_monthly_min_gap_days') ~ ' and ' ~ var('pay_semi_monthly_max_gap_days') %}
{%- set biweekly_gaps = var('pay_biweekly_min_gap_days') ~ ' and ' ~ var('pay_biweekly_max_gap_days') %}
{%- set monthly_gaps = var('pay_monthly_min_gap_days') ~ ' and ' ~ var('pay_monthly_max_gap_days') %}

with windowed as (

    select * from {{ ref('int_transactions_windowed') }}

),

paydays as (

    -- Cadence is measured between paydays: two employers paying on one day are one payday.
    select
        user_id,
        window_days,
        transaction_date,
        count(*) as deposit_count,
        sum(amount) as pay_amount,
        -- A payday on the last day of a month compares as day 31 (month ends differ in length).
        case
            when transaction_date = last_day(transaction_date) then 31
            else day(transaction_date)
        end as day_of_month

    from windowed
    where is_payroll_deposit
    group by user_id, window_days, transaction_date

),

gapped as (

    select
        *,
        {{ days_between('lag(transaction_date) over by_user', 'transaction_date') }} as gap_days,
        -- Semi-monthly pay keeps its two days of the month. Comparing each payday with the one four
        -- paydays (two months) back separates it from biweekly pay, which drifts 3-5 days in those
        -- 56 days. Distance on a 31-day circle: a 1st moved back to the 31st is 1 day off.
        abs(day_of_month - lag(day_of_month, 4) over by_user) as day_shift

    from paydays
    window by_user as (partition by user_id, window_days order by transaction_date)

),

with_median as (

    select
        *,
        median(gap_days) over (partition by user_id, window_days) as median_pay_gap_days,
        least(day_shift, 31 - day_shift) as circular_day_shift

    from gapped

),

profiled as (

    select
        user_id,
        window_days,
        sum(deposit_count) as payroll_deposit_count,
        any_value(median_pay_gap_days) as median_pay_gap_days,
        count(gap_days) filter (
            where abs(gap_days - median_pay_gap_days) <= {{ var('pay_steady_gap_tolerance_days') }}
        ) / nullif(count(gap_days), 0) as steady_gap_share,
        count(circular_day_shift) filter (
            where circular_day_shift <= {{ var('pay_semi_monthly_day_tolerance') }}
        ) / nullif(count(circular_day_shift), 0) as fixed_day_share,
        case
            when count(*) >= 2 then stddev_pop(pay_amount) / nullif(avg(pay_amount), 0)
        end as income_variability

    from with_median
    group by user_id, window_days

),

classified as (

    select
        user_id,
        window_days,
        payroll_deposit_count >= {{ var('payroll_min_deposits') }} as payroll_detected,
        payroll_deposit_count,
        median_pay_gap_days,
        case
            when median_pay_gap_days is null then null
            when median_pay_gap_days between {{ weekly_gaps }}
                then 'weekly'
            -- Fixed days of the month first: 15th-and-last pay also has steady ~15-day gaps.
            when median_pay_gap_days between {{ semi_monthly_gaps }}
                and fixed_day_share >= {{ var('pay_semi_monthly_min_share') }}
                then 'semi_monthly'
            when median_pay_gap_days between {{ biweekly_gaps }}
                and steady_gap_share >= {{ var('pay_steady_min_share') }}
                then 'biweekly'
            when median_pay_gap_days between {{ monthly_gaps }}
                then 'monthly'
            else 'irregular'
        end as pay_frequency,
        income_variability

    from profiled

)

select * from classified
