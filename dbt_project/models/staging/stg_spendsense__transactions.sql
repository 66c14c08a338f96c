{%- set patterns = category_patterns() -%}
{%- set amount_convention = var('amount_convention') -%}
{%- if amount_convention not in ('spendsense', 'plaid') -%}
    {{ exceptions.raise_compiler_error(
        "var amount_convention must be 'spendsense' or 'plaid', got '" ~ amount_convention ~ "'"
    ) }}
{%- endif -%}

with source as (

    select * from {{ source('raw', 'transactions') }}

),

renamed as (

    select
        transaction_id,
        account_id,
        user_id,
        date as transaction_date,
        -- Every model downstream reads the spendsense convention: amount < 0 is money leaving.
        {% if amount_convention == 'plaid' -%} -amount {%- else -%} amount {%- endif %} as amount,
        merchant_name,
        merchant_entity_id,
        payment_channel,
        category_primary,
        category_detailed,
        coalesce(pending, false) as is_pending,
        created_at,
        lower(coalesce(category_primary, '') || ' ' || coalesce(category_detailed, '')) as category_text,
        -- Lower case, apostrophes dropped, punctuation to spaces; '#' and '*' survive for the next step.
        trim(regexp_replace(replace(lower(merchant_name), '''', ''), '[^a-z0-9#*&]+', ' ', 'g'))
            as merchant_text

    from source

),

merchant_keyed as (

    select
        *,
        -- Strip trailing store numbers and reference codes ("#1234", "store 0042", "*ab12cd",
        -- "0042"), so one merchant's branches and charges group into one stream.
        nullif(trim(regexp_replace(
            regexp_replace(
                merchant_text,
                '(\s*[#*]\s*[a-z]*[0-9][a-z0-9]*|\s+(store|str|location|loc|unit|no)\s*#?\s*[0-9]+|\s+[a-z]*[0-9][a-z0-9]*)+$',
                ''
            ),
            '[\s#*]+', ' ', 'g'
        )), '') as merchant_stripped

    from renamed

),

categorised as (

    select
        transaction_id,
        account_id,
        user_id,
        transaction_date,
        amount,
        merchant_name,
        -- A name made only of a code keeps its cleaned text rather than becoming null.
        coalesce(merchant_stripped, nullif(trim(regexp_replace(merchant_text, '[\s#*]+', ' ', 'g')), ''))
            as merchant_key,
        merchant_entity_id,
        payment_channel,
        category_primary,
        category_detailed,
        is_pending,
        created_at,
        amount < 0 as is_outflow,
        regexp_matches(category_text, '{{ patterns.transfer }}') as is_transfer_like,
        regexp_matches(category_text, '{{ patterns.credit_card_payment }}') as is_credit_card_payment,
        regexp_matches(category_text, '{{ patterns.loan_payment }}') as is_loan_payment,
        regexp_matches(category_text, '{{ patterns.savings_deposit }}') as is_savings_deposit,
        amount < 0 and regexp_matches(category_text, '{{ patterns.interest }}') as is_interest_charge,
        amount < 0
            and regexp_matches(category_text, '{{ patterns.fee }}')
            and not regexp_matches(category_text, '{{ patterns.interest }}') as is_overdraft_or_late_fee,
        -- SPEC §4 income rule, minus the account check (int_transactions_windowed adds "depository"):
        -- an inflow labelled income/payroll/salary, or from a merchant saying PAYROLL / SALARY /
        -- DIRECT DEP. A plain ACH deposit or a transfer from one's own account is not pay.
        amount > 0 and (
            (
                regexp_matches(category_text, '{{ patterns.income }}')
                and not regexp_matches(category_text, '{{ patterns.not_pay_income }}')
            )
            or regexp_matches(coalesce(merchant_text, ''), '{{ patterns.payroll_merchant }}')
        ) as is_payroll_like

    from merchant_keyed

),

final as (

    select
        *,
        -- SPEC §4 spend: outflows except moves between own accounts and debt/card payments.
        is_outflow and not (
            is_transfer_like or is_credit_card_payment or is_loan_payment or is_savings_deposit
        ) as is_spend

    from categorised

)

select * from final
