{%- set rule_order = ordering_key(["rules.match_on = 'merchant'", 'rules.rule_id']) %}
-- The statement rows that parsed and passed their checks, with their merchant key, category (seed
-- statement_category_rules) and the transaction flags the features read (docs/statements.md).
with parsed as (

    select * from {{ ref('int_statement_rows_parsed') }}
    where reason is null

),

rules as (

    select * from {{ ref('statement_category_rules') }}

),

keyed as (

    select
        parsed.*,
        -- A description with nothing left to key ("***") keys as itself: never null.
        coalesce({{ merchant_key('parsed.description_text') }}, lower(parsed.description_text))
            as merchant_key

    from parsed

),

rule_matches as (

    -- The bank's own category first, then the merchant rules; the lowest rule_id of each kind wins.
    select
        keyed.statement_file,
        keyed.line_number,
        min_by(rules.category_primary, {{ rule_order }}) as category_primary,
        min_by(rules.category_detailed, {{ rule_order }}) as category_detailed

    from keyed
    inner join rules
        on (
            rules.match_on = 'bank_category'
            and {{ regexp_contains("lower(coalesce(keyed.category_text, ''))", 'rules.pattern') }}
        )
        or (
            rules.match_on = 'merchant'
            and {{ regexp_contains(
                "coalesce(keyed.merchant_key, '') || ' ' || lower(keyed.description_text)", 'rules.pattern'
            ) }}
        )
    group by keyed.statement_file, keyed.line_number

),

categorised as (

    select
        keyed.*,
        rule_matches.category_primary,
        rule_matches.category_detailed,
        rule_matches.category_primary is null as is_uncategorized,
        lower(
            coalesce(rule_matches.category_primary, '') || ' ' || coalesce(rule_matches.category_detailed, '')
        ) as category_label

    from keyed
    left join rule_matches
        on keyed.statement_file = rule_matches.statement_file
        and keyed.line_number = rule_matches.line_number

),

flagged as (

    select
        categorised.*,
        {{ category_flags('category_label') }}

    from categorised

),

final as (

    select
        statement_file,
        line_number,
        account_id,
        user_id,
        transaction_date,
        amount,
        description_text,
        merchant_key,
        category_primary,
        category_detailed,
        is_uncategorized,
        is_pending,
        {{ transaction_flags('description_text') }}

    from flagged

)

select * from final
