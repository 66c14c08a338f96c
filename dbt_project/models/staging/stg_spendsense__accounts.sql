{%- set patterns = category_patterns() -%}
{%- set account_type = "coalesce(account_type, '')" -%}
{%- set account_subtype = "coalesce(account_subtype, '')" -%}

with source as (

    select * from {{ source('raw', 'accounts') }}

),

labelled as (

    select
        *,
        {{ normalize_label('type') }} as account_type,
        {{ normalize_label('subtype') }} as account_subtype

    from source

),

categorised as (

    select
        account_id,
        user_id,
        account_type,
        account_subtype,
        balance_available,
        balance_current,
        balance_limit,
        upper(iso_currency_code) as iso_currency_code,
        holder_category,
        created_at,

        -- Plaid puts the kind in the subtype (type depository / subtype savings), the original
        -- SpendSense files in the type: look at both.
        (
            {{ regexp_contains(account_type, sql_string(patterns.checking_account_type)) }}
            or {{ regexp_contains(account_subtype, sql_string(patterns.checking_account_type)) }}
        ) as is_checking,
        (
            {{ regexp_contains(account_type, sql_string(patterns.savings_account_type)) }}
            or {{ regexp_contains(account_subtype, sql_string(patterns.savings_account_type)) }}
            or coalesce(account_subtype, '') like '%savings%'
        ) as is_savings_like,
        (
            {{ regexp_contains(account_type, sql_string(patterns.credit_card_account_type)) }}
            or coalesce(account_subtype, '') = 'credit card'
        ) as is_credit_card,
        (
            {{ regexp_contains(account_type, sql_string(patterns.investment_account_type)) }}
            or {{ regexp_contains(account_subtype, sql_string(patterns.investment_account_type)) }}
        ) as is_investment,
        (
            {{ regexp_contains(account_type, sql_string(patterns.depository_account_type)) }}
            or {{ regexp_contains(account_subtype, sql_string(patterns.depository_account_type)) }}
        ) as is_depository_type

    from labelled

),

final as (

    select
        account_id,
        user_id,
        account_type,
        account_subtype,
        balance_available,
        balance_current,
        balance_limit,
        iso_currency_code,
        holder_category,
        created_at,
        is_checking,
        is_savings_like,
        is_credit_card,
        is_investment,
        -- Where pay can land (the income rule, docs/features.md): any cash account, not a card.
        (
            (is_depository_type or is_checking or is_savings_like)
            and not is_credit_card
            and not is_investment
        ) as is_depository

    from categorised

)

select * from final
