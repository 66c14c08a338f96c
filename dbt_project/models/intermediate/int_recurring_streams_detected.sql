{{ config(materialized='table') }}

{%- set cadences = var('recurring_cadences') %}
{%- set amount_tolerance = var('recurring_amount_tolerance') %}
{%- set min_occurrences = var('recurring_min_occurrences') %}

with transactions as (

    select * from {{ ref('stg_spendsense__transactions') }}

),

merchants as (

    select * from {{ ref('stg_spendsense__merchants') }}

),

windows as (

    select * from {{ ref('int_windows_defined') }}

),

history_bounds as (

    select
        min(lookback_start_date) as first_date,
        max(as_of_date) as as_of_date

    from windows

),

spend as (

    -- Streams are built from the posted outflows counted in total_spend (SPEC §4). Interest and
    -- fees are spend too, but a bank charging them monthly is not a subscription.
    select
        transactions.user_id,
        merchants.merchant_key,
        transactions.merchant_name,
        transactions.transaction_date,
        -transactions.amount as amount

    from transactions
    inner join merchants
        on transactions.merchant_name = merchants.merchant_name
    cross join history_bounds
    where not transactions.is_pending
        and transactions.is_spend
        and not transactions.is_interest_charge
        and not transactions.is_overdraft_or_late_fee
        and transactions.transaction_date between history_bounds.first_date and history_bounds.as_of_date

),

charge_days as (

    -- Charges at one merchant on one day are one occurrence: two subscriptions billed together,
    -- or a split purchase, are not a 0-day cadence.
    select
        user_id,
        merchant_key,
        transaction_date,
        sum(amount) as amount,
        min(trim(merchant_name)) as merchant_name

    from spend
    group by user_id, merchant_key, transaction_date

),

merchant_histories as (

    -- One ordered charge list per (user, merchant) over the longest look-back; with fewer charge
    -- days than a stream needs, no window can hold one.
    select
        user_id,
        merchant_key,
        min(merchant_name) as merchant_name,
        list(struct_pack(transaction_date, amount) order by transaction_date) as charges

    from charge_days
    group by user_id, merchant_key
    having count(*) >= {{ min_occurrences }}

),

window_histories as (

    -- Both windows from one history, set-based: list functions instead of per-row window
    -- functions over millions of tiny partitions.
    select
        merchant_histories.user_id,
        windows.window_days,
        merchant_histories.merchant_key,
        merchant_histories.merchant_name,
        windows.window_start_date,
        list_filter(
            merchant_histories.charges,
            lambda charge: charge.transaction_date >= windows.lookback_start_date
        ) as charges

    from merchant_histories
    cross join windows

),

measured as (

    select
        user_id,
        window_days,
        merchant_key,
        merchant_name,
        len(charges) as occurrence_count,
        charges[1].transaction_date as first_date,
        charges[-1].transaction_date as last_date,
        list_transform(
            range(1, len(charges)),
            lambda i: charges[i + 1].transaction_date - charges[i].transaction_date
        ) as gaps,
        list_transform(charges, lambda charge: charge.amount) as amounts,
        list_transform(
            list_filter(charges, lambda charge: charge.transaction_date >= window_start_date),
            lambda charge: charge.amount
        ) as window_amounts

    from window_histories
    where len(charges) >= {{ min_occurrences }}

),

candidate_streams as (

    select
        user_id,
        window_days,
        merchant_key,
        merchant_name,
        occurrence_count,
        first_date,
        last_date,
        len(gaps) as gap_count,
        list_median(gaps) as median_gap_days,
        {%- for cadence in cadences %}
        len(list_filter(
            gaps,
            lambda gap: gap between {{ cadence.min_gap_days }} and {{ cadence.max_gap_days }}
        )) as gaps_{{ cadence.name }},
        {%- endfor %}
        list_median(amounts) as median_amount,
        list_min(amounts) as min_amount,
        list_max(amounts) as max_amount,
        list_stddev_pop(amounts) / nullif(list_avg(amounts), 0) as amount_cv,
        len(window_amounts) as charges_in_window,
        coalesce(list_sum(window_amounts), 0) as spend_in_window

    from measured

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
        round(median_amount, 2) as median_amount,
        occurrence_count,
        first_date,
        last_date,
        cast(last_date + cast(round(median_gap_days) as integer) as date) as next_expected_date,
        median_gap_days,
        gap_share_in_cadence,
        amount_cv,
        round(median_amount * periods_per_year / 12.0, 2) as monthly_cost,
        charges_in_window,
        round(spend_in_window, 2) as spend_in_window,
        charges_in_window > 0 as is_active_in_window

    from recurring

)

select * from final
