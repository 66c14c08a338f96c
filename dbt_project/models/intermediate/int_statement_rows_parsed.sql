{#- Dates and amounts of every CSV statement row read, with the first problem that rejects it
    (docs/statements.md). The day/month order of numeric dates and the decimal separator are decided
    per file from its values unless mapping.json names them; a file whose values leave the order open
    is refused as a whole (ambiguous_date_order) rather than guessed. -#}
{#- A time after the date ("06/05/2025 14:32") is ignored. -#}
{%- set numeric_date = '^([0-9]{1,2})[/-]([0-9]{1,2})[/-]([0-9]{2}|[0-9]{4})([ T][0-9:. apmAPM]*)?$' %}
{%- set date_text = 'statement_rows.date_text' %}
{%- set all_digits = "coalesce(amount_money.digits, '') || ' ' || coalesce(debit_money.digits, '') || ' '
    || coalesce(credit_money.digits, '')" %}
{#- A numeric date as YYYY-M-D in the file's day/month order; two-digit years are 20yy. -#}
{%- set numeric_as_iso -%}
        (
            case
                when
                    length(regexp_extract(formatted.date_text, '{{ numeric_date }}', 3)) = 2
                    then 2000
                else 0
            end
            + cast(regexp_extract(formatted.date_text, '{{ numeric_date }}', 3) as integer)
        )::string
        || '-'
        || (
            case
                when formatted.date_order = 'day_first' then formatted.second_part else
                    formatted.first_part
            end
        )::string
        || '-'
        || (
            case
                when formatted.date_order = 'day_first' then formatted.first_part else
                    formatted.second_part
            end
        )::string
{%- endset %}

with statement_rows as (

    select * from {{ ref('stg_spendsense__statement_rows') }}

),

statement_files as (

    select * from {{ ref('stg_spendsense__statement_files') }}

),

accounts as (

    select * from {{ ref('stg_spendsense__accounts') }}

),

shaped as (

    select
        statement_rows.*,
        statement_files.named_date_order,
        statement_files.decimal_separator as named_decimal_separator,
        statement_files.is_outflow_positive,
        statement_files.has_amount_column,
        statement_files.max_abs_amount,
        statement_files.min_abs_amount,
        accounts.user_id,
        accounts.account_id is not null as is_known_account,
        case
            when
                {{ regexp_full_match(date_text, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T].*)?') }}
                then 'iso'
            when {{ regexp_full_match(date_text, numeric_date) }} then 'numeric'
            when {{ regexp_full_match(date_text, '[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{4}( [0-9:.]*)?') }}
                then 'dotted'
            when
                {{ regexp_full_match(date_text, '\\pL{3,9}\\.?\\s+[0-9]{1,2},?\\s+[0-9]{4}') }}
                then 'month_name'
            when
                {{ regexp_full_match(date_text, '[0-9]{1,2}\\s+\\pL{3,9}\\.?,?\\s+[0-9]{4}') }}
                then 'day_month_name'
        end as date_shape,
        try_cast(regexp_extract(statement_rows.date_text, '{{ numeric_date }}', 1) as integer) as first_part,
        try_cast(regexp_extract(statement_rows.date_text, '{{ numeric_date }}', 2) as integer) as second_part,
        {{ statement_money('statement_rows.amount_text') }} as amount_money,
        {{ statement_money('statement_rows.debit_text') }} as debit_money,
        {{ statement_money('statement_rows.credit_text') }} as credit_money

    from statement_rows
    left join statement_files
        on statement_rows.statement_file = statement_files.statement_file
    left join accounts
        on statement_rows.account_id = accounts.account_id

),

file_formats as (

    -- A first part above 12 is a day (DD/MM), a second part above 12 a day (MM/DD); dates whose two
    -- parts differ but are both at most 12 read both ways.
    select
        shaped.statement_file,
        coalesce(bool_or(shaped.first_part > 12), false) as has_day_first,
        coalesce(bool_or(shaped.second_part > 12), false) as has_day_second,
        coalesce(bool_or(shaped.first_part <> shaped.second_part), false) as has_order_sensitive_date,
        count(*) filter (
            where {{ regexp_contains(all_digits, "',[0-9]{1,2}( |$)'") }}
        ) as decimal_comma_votes,
        count(*) filter (
            where {{ regexp_contains(all_digits, "'\\.[0-9]{1,2}( |$)'") }}
        ) as decimal_point_votes

    from shaped
    group by shaped.statement_file

),

formatted as (

    select
        shaped.*,
        case
            when shaped.named_date_order is not null then shaped.named_date_order
            when file_formats.has_day_first and file_formats.has_day_second then 'conflicting'
            when file_formats.has_day_first then 'day_first'
            when file_formats.has_day_second then 'month_first'
            when file_formats.has_order_sensitive_date then 'ambiguous'
            -- Every numeric date reads the same both ways (e.g. 05/05/2025).
            else 'month_first'
        end as date_order,
        coalesce(
            shaped.named_decimal_separator,
            case
                when
                    file_formats.decimal_comma_votes > 0 and file_formats.decimal_point_votes = 0
                    then ','
                else '.'
            end
        ) as decimal_separator

    from shaped
    left join file_formats
        on shaped.statement_file = file_formats.statement_file

),

parsed as (

    select
        formatted.*,
        cast(case
            when
                formatted.date_shape = 'iso'
                then {{ try_parse_date(
                        "regexp_extract(formatted.date_text, '^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})', 1)", '%Y-%m-%d'
                    ) }}
            when formatted.date_shape = 'dotted'
                then {{ try_parse_date("regexp_extract(formatted.date_text, '^([0-9.]+)', 1)", '%d.%m.%Y') }}
            when formatted.date_shape = 'month_name'
                then {{ try_parse_date(
                        regexp_replace_all("replace(formatted.date_text, ',', '')", "'\\s+'", "' '"),
                        ['%b %d %Y', '%B %d %Y', '%b. %d %Y']
                    ) }}
            when formatted.date_shape = 'day_month_name'
                then {{ try_parse_date(
                        regexp_replace_all("replace(formatted.date_text, ',', '')", "'\\s+'", "' '"),
                        ['%d %b %Y', '%d %B %Y', '%d %b. %Y']
                    ) }}
            when formatted.date_shape = 'numeric' and formatted.date_order in ('day_first', 'month_first')
                then {{ try_parse_date(numeric_as_iso, '%Y-%m-%d') }}
        end as date) as transaction_date,
        {{ statement_magnitude("nullif(amount_money.digits, '')", 'decimal_separator') }} as amount_magnitude,
        {{ statement_magnitude("nullif(debit_money.digits, '')", 'decimal_separator') }} as debit_magnitude,
        {{ statement_magnitude("nullif(credit_money.digits, '')", 'decimal_separator') }} as credit_magnitude,
        (amount_money.lead in ('-', '('))::integer + (amount_money.inner in ('-', '('))::integer
        + (amount_money.trail = '-')::integer as amount_minus_marks,
        (amount_money.lead = '(' or amount_money.inner = '(')
        = (amount_money.close = ')') as has_balanced_parentheses

    from formatted

),

signed as (

    select
        parsed.*,
        case
            when parsed.has_amount_column
                then
                    case
                        when
                            parsed.amount_magnitude is null
                            or not parsed.has_balanced_parentheses
                            or parsed.amount_minus_marks > 1
                            then null
                        -- CR is money in and DR money out, whatever the file's convention; a mark and a
                        -- minus sign together contradict each other.
                        when amount_money.mark <> '' and parsed.amount_minus_marks > 0 then null
                        when amount_money.mark = 'CR' then parsed.amount_magnitude
                        when amount_money.mark = 'DR' then -parsed.amount_magnitude
                        when
                            (parsed.amount_minus_marks = 1) <> parsed.is_outflow_positive
                            then -parsed.amount_magnitude
                        else parsed.amount_magnitude
                    end
            -- Split columns: a debit is money out, a credit money in (their own signs are ignored).
            when parsed.debit_magnitude > 0 and parsed.credit_magnitude > 0 then null
            when parsed.debit_magnitude > 0 then -parsed.debit_magnitude
            else coalesce(parsed.credit_magnitude, parsed.debit_magnitude)
        end as amount,
        case
            when parsed.has_amount_column then parsed.amount_text
            else coalesce(parsed.debit_text, '') || ' | ' || coalesce(parsed.credit_text, '')
        end as amount_shown,
        case
            when parsed.has_amount_column then parsed.amount_text is null
            else parsed.debit_text is null and parsed.credit_text is null
        end as is_amount_missing,
        case
            when parsed.has_amount_column then coalesce({{ is_foreign_money('amount_text') }}, false)
            else coalesce({{ is_foreign_money('debit_text') }}, false)
                or coalesce({{ is_foreign_money('credit_text') }}, false)
        end as is_foreign_currency,
        case
            when
                parsed.status_text is null
                or parsed.status_text in (
                    'posted', 'cleared', 'booked', 'settled', 'complete', 'completed', 'false', 'no', 'n', '0'
                )
                then false
            when parsed.status_text in ('pending', 'true', 'yes', 'y', '1') then true
        end as is_pending

    from parsed

),

checked as (

    select
        signed.*,
        case
            when not signed.is_known_account then 'orphan_account'
            when signed.cell_count <> signed.header_cell_count then 'malformed_row'
            when
                signed.date_text is null or signed.description_text is null or signed.is_amount_missing
                then 'missing_required_field'
            when
                signed.date_shape = 'numeric' and signed.date_order in ('ambiguous', 'conflicting')
                then 'ambiguous_date_order'
            when signed.transaction_date is null then 'invalid_type'
            when signed.is_foreign_currency then 'unsupported_currency'
            when signed.amount is null then 'invalid_type'
            when signed.is_pending is null or abs(signed.amount) > signed.max_abs_amount
                or (signed.amount <> 0 and abs(signed.amount) < signed.min_abs_amount) then 'invalid_value'
            when
                signed.transaction_date > {{ as_of_date() }}
                then 'future_date'
        end as reason

    from signed

),

final as (

    select
        statement_file,
        line_number,
        account_id,
        user_id,
        row_text,
        description_text,
        category_text,
        transaction_date,
        amount,
        coalesce(is_pending, false) as is_pending,
        date_order,
        decimal_separator,
        reason,
        case reason
            when 'orphan_account' then 'account_id ' || account_id || ' (the statement folder) is unknown'
            when
                'malformed_row'
                then 'the row has ' || cell_count || ' cells, the header ' || header_cell_count
            when 'missing_required_field'
                then
                    case
                        when date_text is null then 'the date is empty'
                        when description_text is null then 'the description is empty'
                        else 'the amount is empty'
                    end
            when 'ambiguous_date_order'
                then
                    'date ' || date_text || ': '
                    || case when date_order = 'conflicting'
                            then 'the file has dates with a day first and dates with a month first'
                        else 'no date of the file has a day above 12, so DD/MM and MM/DD both fit'
                    end || '; name date_format in mapping.json'
            when 'invalid_type'
                then
                    case
                        when transaction_date is null then 'date ' || left(date_text, 60) || ' is not a date'
                        else 'amount ' || left(amount_shown, 60) || ' is not an amount'
                            || case when decimal_separator = ',' then ' with a decimal comma' else '' end
                    end
            when 'unsupported_currency' then 'amount ' || left(amount_shown, 60) || ' is not in US dollars'
            when 'invalid_value'
                then
                    case
                        when
                            is_pending is null
                            then 'status ' || left(status_text, 60) || ' is neither pending nor posted'
                        else 'amount ' || amount::string || ' is beyond ±' || max_abs_amount::string
                            || ' or below the smallest amount of money'
                    end
            when 'future_date' then 'date ' || transaction_date::string || ' is after the as-of date'
        end as detail

    from checked

)

select * from final
