with source as (

    select * from {{ source('raw', 'liabilities') }}

),

renamed as (

    select
        liability_id,
        account_id,
        user_id,
        {{ normalize_label('liability_type') }} as liability_type,
        apr_purchase,
        apr_balance_transfer,
        apr_cash_advance,
        minimum_payment_amount,
        last_payment_amount,
        coalesce(is_overdue, false) as is_overdue,
        next_payment_due_date,
        last_statement_balance,
        interest_rate,
        created_at

    from source

)

select * from renamed
