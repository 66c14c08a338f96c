-- What a consenting customer kept of their pay each calendar month (docs/statements.md).
with transactions as (

    select * from {{ ref('int_transactions_analysed') }}

),

monthly as (

    select
        user_id,
        month_start as month,  -- noqa: RF04
        round(sum(income_amount), 2) as income,
        round(sum(spend_amount), 2) as spend

    from transactions
    group by user_id, month_start

),

final as (

    select
        user_id,
        month,  -- noqa: RF04
        income,
        spend,
        round(income - spend, 2) as net_savings,
        -- No pay that month: no rate (a ratio of nothing).
        case when income > 0 then round((income - spend) / income, 4) end as savings_rate

    from monthly

)

select * from final
