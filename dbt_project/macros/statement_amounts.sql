{#- How a statement amount cell reads (docs/statements.md): "1,234.56", "1.234,56", "(12.50)",
    "-$12.50", "12.50-", "$12.50 CR" / "DR". statement_money gives the parts of a cell that has that
    shape as a whole (else its digits are null); the magnitude waits for the file's decimal
    separator (statement_magnitude). -#}
{% macro statement_money(column) -%}
    {%- set shape = '^\\s*([-+(]?)\\s*(?:US\\$|USD|\\$)?\\s*([-(]?)\\s*([0-9](?:[0-9., ]*[0-9])?)\\s*(\\)?)\\s*(-?)\\s*(CR|DR)?\\s*$' -%}
    {{ regexp_extract_groups('upper(' ~ column ~ ')', shape, ['lead', 'inner', 'digits', 'close', 'trail', 'mark']) }}
{%- endmacro %}


{#- A cell naming a currency other than the dollar. -#}
{% macro is_foreign_money(column) -%}
    {{ regexp_contains('upper(' ~ column ~ ')', "'€|£|¥|₹|(^|[^A-Z])(EUR|GBP|CAD|AUD|JPY|CHF|MXN|INR)([^A-Z]|$)'") }}
{%- endmacro %}


{#- The unsigned value of statement_money(...).digits under `decimal_separator` ('.' or ','); null
    when the digits are not a number written that way ("12,50" is not a number in a '.' file). -#}
{% macro statement_magnitude(digits, decimal_separator) -%}
    case
        when {{ decimal_separator }} = ','
            then case
                when {{ regexp_full_match(digits, '[0-9]{1,3}([. ][0-9]{3})*(,[0-9]+)?|[0-9]+(,[0-9]+)?') }}
                    then try_cast(replace(replace(replace({{ digits }}, '.', ''), ' ', ''), ',', '.') as double)
            end
        else case
            when {{ regexp_full_match(digits, '[0-9]{1,3}([, ][0-9]{3})*(\\.[0-9]+)?|[0-9]+(\\.[0-9]+)?') }}
                then try_cast(replace(replace({{ digits }}, ',', ''), ' ', '') as double)
        end
    end
{%- endmacro %}

