{{ config(materialized='table') }}

{%- set cadences = var('recurring_cadences') %}
{%- set amount_tolerance = var('recurring_amount_tolerance') %}

with windowed as (

    select * from {{ ref('int_transactions_windowed') }}

),

spend as (

    -- Streams are built from the outflows counted in total_spend (SPEC §4), bank charges aside.
    select * from windowed
    where is_spend
        and not is_bank_charge
        and merchant_key is not null

),

occurrences as (

    -- Several charges at one merchant on one day are one occurrence (a split purchase is not a
    -- 0-day cadence).
    select
        user_id,
        window_days,
        merchant_key,
        transaction_date,
        -sum(amount) as amount,
        bool_or(is_in_window) as is_in_window,
        min(trim(merchant_name)) as merchant_name

    from spend
    group by user_id, window_days, merchant_key, transaction_date

),

gapped as (

    select
        *,
        transaction_date - lag(transaction_date) over (
            partition by user_id, window_days, merchant_key
            order by transaction_date
        ) as gap_days

    from occurrences

),

candidate_streams as (

    select
        user_id,
        window_days,
        merchant_key,
        min(merchant_name) as merchant_name,
        count(*) as occurrence_count,
        count(gap_days) as gap_count,
        median(gap_days) as median_gap_days,
        {%- for cadence in cadences %}
        count(*) filter (
            where gap_days between {{ cadence.min_gap_days }} and {{ cadence.max_gap_days }}
        ) as gaps_{{ cadence.name }},
        {%- endfor %}
        median(amount) as median_amount,
        min(amount) as min_amount,
        max(amount) as max_amount,
        stddev_pop(amount) / nullif(avg(amount), 0) as amount_cv,
        min(transaction_date) as first_date,
        max(transaction_date) as last_date,
        count(*) filter (where is_in_window) as charges_in_window,
        coalesce(sum(amount) filter (where is_in_window), 0) as spend_in_window

    from gapped
    group by user_id, window_days, merchant_key
    having count(*) >= {{ var('recurring_min_occurrences') }}

),

cadenced as (

    -- The median gap picks the cadence; the gap ranges do not overlap.
    select
        *,
        case
            {%- for cadence in cadences %}
            when median_gap_days between {{ cadence.min_gap_days }} and {{ cadence.max_gap_days }}
                then '{{ cadence.name }}'
            {%- endfor %}
        end as cadence,
        case
            {%- for cadence in cadences %}
            when median_gap_days between {{ cadence.min_gap_days }} and {{ cadence.max_gap_days }}
                then gaps_{{ cadence.name }} / gap_count
            {%- endfor %}
        end as gap_share_in_cadence,
        case
            {%- for cadence in cadences %}
            when median_gap_days between {{ cadence.min_gap_days }} and {{ cadence.max_gap_days }}
                then {{ cadence.periods_per_year }}
            {%- endfor %}
        end as periods_per_year

    from candidate_streams

),

recurring as (

    select * from cadenced
    where cadence is not null
        and gap_share_in_cadence >= {{ var('recurring_min_gap_share') }}
        -- Stable amounts: min and max within +/- tolerance of the median means every charge is.
        and (
            (
                min_amount >= median_amount * (1 - {{ amount_tolerance }})
                and max_amount <= median_amount * (1 + {{ amount_tolerance }})
            )
            or amount_cv <= {{ var('recurring_max_amount_cv') }}
        )

),

final as (

    select
        user_id,
        window_days,
        merchant_key,
        merchant_name,
        cadence,
        median_amount,
        occurrence_count,
        first_date,
        last_date,
        cast(last_date + cast(round(median_gap_days) as integer) as date) as next_expected_date,
        median_gap_days,
        gap_share_in_cadence,
        amount_cv,
        -- Multiply before dividing: 12.00 a week is exactly 52.00 a month, not 51.999...
        median_amount * periods_per_year / 12.0 as monthly_cost,
        charges_in_window,
        spend_in_window,
        charges_in_window > 0 as is_active_in_window

    from recurring

)

select * from final
