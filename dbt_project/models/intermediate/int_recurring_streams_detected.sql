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

merchant_display_names as (

    -- One readable name per merchant key (the first raw spelling), cheaper than carrying names
    -- through millions of charge rows.
    select
        merchant_key,
        min(trim(merchant_name)) as merchant_name

    from merchants
    group by merchant_key

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
    -- or a split purchase, are not a 0-day cadence. Window functions below run over charge days.
    select
        user_id,
        merchant_key,
        transaction_date,
        sum(amount) as amount

    from spend
    group by user_id, merchant_key, transaction_date

),

sequenced as (

    -- Previous charge day and history length per (user, merchant), once for all windows.
    select
        *,
        lag(transaction_date) over (
            partition by user_id, merchant_key order by transaction_date
        ) as previous_date,
        count(*) over (partition by user_id, merchant_key) as history_charge_days

    from charge_days

),

windowed as (

    -- Each charge day in each window's look-back. A gap counts when the previous charge day is
    -- in the same look-back. Merchants seen on too few days in the longest look-back are skipped.
    select
        sequenced.*,
        windows.window_days,
        windows.window_start_date,
        case
            when sequenced.previous_date >= windows.lookback_start_date
                then sequenced.transaction_date - sequenced.previous_date
        end as gap_days

    from sequenced
    inner join windows
        on sequenced.transaction_date >= windows.lookback_start_date
    where sequenced.history_charge_days >= {{ min_occurrences }}

),

screened as (

    -- A cheap first pass over counts only. If a cadence range holds the required share (> 50 %)
    -- of a stream's gaps, the median gap lies in that range too, so this keeps every stream the
    -- rules below can accept, and the costly medians run on the few that are left.
    select
        user_id,
        window_days,
        merchant_key

    from windowed
    group by user_id, window_days, merchant_key
    having count(*) >= {{ min_occurrences }}
        and greatest(
            {%- for cadence in cadences %}
            count(*) filter (where gap_days between {{ cadence.min_gap_days }} and {{ cadence.max_gap_days }})
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        ) >= {{ var('recurring_min_gap_share') }} * count(gap_days)

),

screened_charges as (

    select windowed.*
    from windowed
    semi join screened
        on windowed.user_id = screened.user_id
        and windowed.window_days = screened.window_days
        and windowed.merchant_key = screened.merchant_key

),

candidate_streams as (

    select
        user_id,
        window_days,
        merchant_key,
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
        count(*) filter (where transaction_date >= window_start_date) as charges_in_window,
        coalesce(sum(amount) filter (where transaction_date >= window_start_date), 0) as spend_in_window

    from screened_charges
    group by user_id, window_days, merchant_key

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
        recurring.user_id,
        recurring.window_days,
        recurring.merchant_key,
        merchant_display_names.merchant_name,
        recurring.cadence,
        round(recurring.median_amount, 2) as median_amount,
        recurring.occurrence_count,
        recurring.first_date,
        recurring.last_date,
        cast(recurring.last_date + cast(round(recurring.median_gap_days) as integer) as date) as next_expected_date,
        recurring.median_gap_days,
        recurring.gap_share_in_cadence,
        recurring.amount_cv,
        round(recurring.median_amount * recurring.periods_per_year / 12.0, 2) as monthly_cost,
        recurring.charges_in_window,
        round(recurring.spend_in_window, 2) as spend_in_window,
        recurring.charges_in_window > 0 as is_active_in_window

    from recurring
    left join merchant_display_names
        on recurring.merchant_key = merchant_display_names.merchant_key

)

select * from final
