{#- Regular expressions (RE2, matched against lower-case text) that categorise transactions and
    accounts. Category text is "<category_primary> <category_detailed>", so both Plaid-style codes
    (TRANSFER_OUT_SAVINGS, BANK_FEES_OVERDRAFT) and plain words (Transfer, Payroll) match. -#}
{% macro category_patterns() -%}
    {#- Words match at the start of a token ("_fees" yes, "coffee" no; "sewage" is not "wage"). -#}
    {%- set word = '(^|[^a-z])' -%}
    {%- do return({
        'transfer': word ~ 'transfer',
        'credit_card_payment': word ~ 'credit[ _]?card[ _]?payment',
        'loan_payment': word ~ 'loan[ _]?payment',
        'savings_deposit': word ~ 'saving',
        'interest': word ~ 'interest',
        'fee': word ~ '(fees?|overdraft|nsf|insufficient[ _]?funds)([^a-z]|$)',
        'income': word ~ '(income|payroll|salar|wage)',
        'not_pay_income': word ~ '(interest|dividend|refund|transfer)',
        'payroll_merchant': word ~ '(payroll|salary|direct[^a-z]*dep|dir[^a-z]*dep)',
        'savings_account_type': '^(savings|money market|cash management|hsa)$',
        'checking_account_type': '^checking$',
        'credit_card_account_type': '^credit( card)?$',
        'investment_account_type': word ~ '(brokerage|401 ?\\(?k|403 ?\\(?b|ira\\b|roth|529\\b|pension|investment)',
        'depository_account_type': '^(depository|checking|savings|money market|cash management|hsa|cd|prepaid)$',
    }) -%}
{%- endmacro %}


{#- Lower-case, with underscores, dashes and repeated spaces folded to one space: 'Money_Market' and
    'money market' compare equal. -#}
{% macro normalize_label(column) -%}
    nullif(trim({{ regexp_replace_all('lower(' ~ column ~ ')', "'[\\s_\\-]+'", "' '") }}), '')
{%- endmacro %}


{#- The category flags the features read (docs/features.md), from "<category_primary> <category_detailed>"
    lower-cased: shared by the JSON categories (stg_spendsense__categories) and the CSV statements. -#}
{% macro category_flags(text) -%}
    {%- set patterns = category_patterns() -%}
        {{ regexp_contains(text, sql_string(patterns.transfer)) }} as is_transfer_like,
        {{ regexp_contains(text, sql_string(patterns.credit_card_payment)) }} as is_credit_card_payment,
        {{ regexp_contains(text, sql_string(patterns.loan_payment)) }} as is_loan_payment,
        {{ regexp_contains(text, sql_string(patterns.savings_deposit)) }} as is_savings_deposit,
        {{ regexp_contains(text, sql_string(patterns.interest)) }} as has_interest_category,
        (
            {{ regexp_contains(text, sql_string(patterns.fee)) }}
            and not {{ regexp_contains(text, sql_string(patterns.interest)) }}
        ) as has_fee_category,
        -- Income, payroll, salary or wages; interest earned, dividends, refunds and transfers are not pay.
        (
            {{ regexp_contains(text, sql_string(patterns.income)) }}
            and not {{ regexp_contains(text, sql_string(patterns.not_pay_income)) }}
        ) as has_pay_category
{%- endmacro %}
