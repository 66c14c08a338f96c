{{ config(materialized='table') }}

-- Every CSV statement row read, with its verdict (docs/statements.md): `accepted` with a
-- deterministic transaction_id, `duplicate` of an earlier transaction (duplicate_of names the kept
-- id), or `rejected` with a reason. A transaction is (account, date, amount in cents, merchant key,
-- occurrence): the JSON feed comes first, then the statement files in name order, and each
-- occurrence is kept once, from the first source that has it. So two identical coffees on one day
-- stay two, and a statement row never replaces or removes a row of the feed or of an earlier file.
with parsed as (

    select * from {{ ref('int_statement_rows_parsed') }}

),

statement_transactions as (

    select * from {{ ref('int_statement_rows_categorised') }}

),

feed_transactions as (

    select * from {{ ref('stg_spendsense__transactions') }}

),

merchants as (

    select * from {{ ref('stg_spendsense__merchants') }}

),

statement_occurrences as (

    select
        statement_transactions.*,
        cast(round(statement_transactions.amount * 100) as bigint) as amount_cents,
        dense_rank() over (order by statement_transactions.statement_file) as source_rank,
        row_number() over (
            partition by
                statement_transactions.statement_file,
                statement_transactions.account_id,
                statement_transactions.transaction_date,
                round(statement_transactions.amount * 100),
                statement_transactions.merchant_key
            order by statement_transactions.line_number
        ) as occurrence

    from statement_transactions

),

identified as (

    select
        *,
        -- Deterministic: the same row of a re-exported statement gets the same id.
        'stmt_' || left(md5(concat_ws(
            '|', 'statement', account_id, cast(transaction_date as string), cast(amount_cents as string),
            coalesce(merchant_key, ''), cast(occurrence as string)
        )), 24) as transaction_id

    from statement_occurrences

),

feed_candidates as (

    -- Only the feed's transactions on an (account, date) a statement also covers are keyed.
    select
        feed_transactions.transaction_id,
        feed_transactions.account_id,
        feed_transactions.transaction_date,
        cast(round(feed_transactions.amount * 100) as bigint) as amount_cents,
        merchants.merchant_key

    from feed_transactions
    left join merchants
        on feed_transactions.merchant_name = merchants.merchant_name
    where exists (
            select 1 from identified
            where identified.account_id = feed_transactions.account_id
                and identified.transaction_date = feed_transactions.transaction_date
        )

),

feed_occurrences as (

    select
        *,
        0 as source_rank,
        row_number() over (
            partition by account_id, transaction_date, amount_cents, merchant_key
            order by transaction_id
        ) as occurrence

    from feed_candidates

),

all_occurrences as (

    select
        transaction_id,
        account_id,
        transaction_date,
        amount_cents,
        merchant_key,
        occurrence,
        source_rank
    from feed_occurrences
    union all
    select
        transaction_id,
        account_id,
        transaction_date,
        amount_cents,
        merchant_key,
        occurrence,
        source_rank
    from identified

),

first_sources as (

    select
        account_id,
        transaction_date,
        amount_cents,
        merchant_key,
        occurrence,
        min(source_rank) as first_source_rank,
        min_by(transaction_id, source_rank) as kept_transaction_id

    from all_occurrences
    group by account_id, transaction_date, amount_cents, merchant_key, occurrence

),

verdicts as (

    select
        identified.statement_file,
        identified.line_number,
        identified.transaction_id,
        first_sources.first_source_rank < identified.source_rank as is_duplicate,
        first_sources.kept_transaction_id

    from identified
    inner join first_sources
        on identified.account_id = first_sources.account_id
        and identified.transaction_date = first_sources.transaction_date
        and identified.amount_cents = first_sources.amount_cents
        and identified.merchant_key is not distinct from first_sources.merchant_key
        and identified.occurrence = first_sources.occurrence

),

final as (

    select
        parsed.statement_file,
        parsed.line_number,
        parsed.account_id,
        parsed.user_id,
        parsed.row_text,
        parsed.transaction_date,
        parsed.amount,
        parsed.is_pending,
        statement_transactions.merchant_key,
        statement_transactions.category_primary,
        statement_transactions.category_detailed,
        statement_transactions.is_uncategorized,
        verdicts.transaction_id,
        case
            when parsed.reason is not null then 'rejected'
            when verdicts.is_duplicate then 'duplicate'
            else 'accepted'
        end as status,
        coalesce(parsed.reason, case when verdicts.is_duplicate then 'duplicate' end) as reason,
        case
            when parsed.reason is not null then parsed.detail
            when
                verdicts.is_duplicate
                then 'same account, date, amount and merchant as ' || verdicts.kept_transaction_id
        end as detail,
        case when verdicts.is_duplicate then verdicts.kept_transaction_id end as duplicate_of

    from parsed
    left join statement_transactions
        on parsed.statement_file = statement_transactions.statement_file
        and parsed.line_number = statement_transactions.line_number
    left join verdicts
        on parsed.statement_file = verdicts.statement_file
        and parsed.line_number = verdicts.line_number

)

select * from final
