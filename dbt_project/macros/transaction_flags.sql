{#- The outflow, fee, interest, spend and pay flags of a transaction (docs/features.md), from its amount
    (spendsense sign: < 0 is money leaving) and its category flags; one definition for the feed
    (stg_spendsense__transactions) and the CSV statements (int_statement_rows_categorised).
    `merchant_text`: the column whose PAYROLL / SALARY / DIRECT DEP wording marks an inflow as pay. -#}
{% macro transaction_flags(merchant_text) -%}
    {%- set patterns = category_patterns() -%}
    amount < 0 as is_outflow,
    is_transfer_like,
    is_credit_card_payment,
    is_loan_payment,
    is_savings_deposit,
    amount < 0 and has_interest_category as is_interest_charge,
    amount < 0 and has_fee_category as is_overdraft_or_late_fee,
    -- Spend: outflows except moves between own accounts and debt / card payments.
    (
        amount < 0
        and not (is_transfer_like or is_credit_card_payment or is_loan_payment or is_savings_deposit)
    ) as is_spend,
    -- The income rule minus the account check (added by int_transactions_windowed): an inflow labelled
    -- income / payroll / salary, or from a merchant saying PAYROLL, SALARY or DIRECT DEP. A plain ACH
    -- deposit or a transfer from one's own account is not pay. The case keeps the merchant expression
    -- to inflows, a few percent of the rows.
    case
        when amount > 0
            then (
                has_pay_category
                or coalesce({{ regexp_contains('lower(' ~ merchant_text ~ ')', sql_string(patterns.payroll_merchant)) }}, false)
            )
        else false
    end as is_payroll_like
{%- endmacro %}
