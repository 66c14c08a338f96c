-- Where the money went: spend per consenting customer, calendar month and category (docs/statements.md).
with transactions as (

    select * from {{ ref('int_transactions_analysed') }}
    where is_spend

),

final as (

    select
        user_id,
        month_start as month,  -- noqa: RF04
        category,
        round(sum(spend_amount), 2) as spend,
        count(*) as transaction_count

    from transactions
    group by user_id, month_start, category

)

select * from final
