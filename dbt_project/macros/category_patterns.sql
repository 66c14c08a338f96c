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
    nullif(trim(regexp_replace(lower({{ column }}), '[\s_\-]+', ' ', 'g')), '')
{%- endmacro %}
