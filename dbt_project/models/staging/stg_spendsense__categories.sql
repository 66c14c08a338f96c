{{ config(materialized='table') }}

-- One row per distinct (category_primary, category_detailed) pair of raw.transactions, with the
-- flags the features read. A lookup table of a few dozen rows: the patterns run once per pair
-- instead of once per transaction, and a table the optimizer knows is tiny keeps the join in
-- stg_spendsense__transactions cheap at 20 M rows.
with category_pairs as (

    select distinct
        category_primary,
        category_detailed

    from {{ source('raw', 'transactions') }}

),

labelled as (

    select
        *,
        lower(coalesce(category_primary, '') || ' ' || coalesce(category_detailed, '')) as category_text

    from category_pairs

),

flagged as (

    select
        category_primary,
        category_detailed,
        {{ category_flags('category_text') }}

    from labelled

)

select * from flagged
