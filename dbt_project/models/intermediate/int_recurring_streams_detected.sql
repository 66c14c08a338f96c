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

users as (

    select * from {{ ref('stg_spendsense__users') }}

),

windows as (

    select * from {{ ref('int_windows_defined') }}

),

user_numbers as (

    -- Integer keys for the sorts and groupings over millions of charges below (with
    -- merchant_key_id): integers compare several times faster than strings.
    select
        user_id,
        row_number() over (order by user_id) as user_number

    from users

),

merchant_keys as (

    -- One readable name per merchant key (the first raw spelling).
    select
        merchant_key_id,
        any_value(merchant_key) as merchant_key,
        min(trim(merchant_name)) as merchant_name

    from merchants
    where merchant_key_id is not null
    group by merchant_key_id

),

history_bounds as (

    select
        min(lookback_start_date) as first_date,
        max(as_of_date) as as_of_date

    from windows

),

spend as (

    -- Streams are built from the posted outflows counted in total_spend (docs/features.md). Interest and
    -- fees are spend too, but a bank charging them monthly is not a subscription.
    select
        user_numbers.user_number,
        merchants.merchant_key_id,
        transactions.transaction_date,
        -transactions.amount as amount

    from transactions
    inner join merchants
        on transactions.merchant_name = merchants.merchant_name
    inner join user_numbers
        on transactions.user_id = user_numbers.user_id
    cross join history_bounds
    where not transactions.is_pending
        and transactions.is_spend
        and not transactions.is_interest_charge
        and not transactions.is_overdraft_or_late_fee
        and merchants.merchant_key_id is not null
        and transactions.transaction_date between history_bounds.first_date and history_bounds.as_of_date

),

sequenced as (

    -- One sort per (user, merchant) over the longest look-back gives the previous charge's date
    -- and, through a frame of same-date peers, the day's total: charges at one merchant on one
    -- day are one occurrence (two subscriptions billed together are not a 0-day cadence).
    select
        *,
        lag(transaction_date) over by_merchant as previous_date,
        -- The window spelled out: Spark cannot add a frame to a named window.
        sum(amount) over (
            partition by user_number, merchant_key_id order by transaction_date
            range between current row and current row
        ) as day_amount,
        count(*) over (partition by user_number, merchant_key_id) as history_charges

    from spend
    window by_merchant as (partition by user_number, merchant_key_id order by transaction_date)

),

charge_days as (

    -- The first charge of each day stands for the day; its previous row is the last charge of
    -- the previous charge day, because same-day rows are adjacent.
    select
        user_number,
        merchant_key_id,
        transaction_date,
        day_amount as amount,
        previous_date,
        history_charges

    from sequenced
    where previous_date is null
        or previous_date < transaction_date

),

windowed as (

    -- Each charge day in each window's look-back. A gap counts when the previous charge day is
    -- in the same look-back. Merchants charged too few times in the longest look-back are skipped.
    select
        charge_days.*,
        windows.window_days,
        windows.window_start_date,
        case
            when charge_days.previous_date >= windows.lookback_start_date
                then {{ days_between('charge_days.previous_date', 'charge_days.transaction_date') }}
        end as gap_days

    from charge_days
    inner join windows
        on charge_days.transaction_date >= windows.lookback_start_date
    where charge_days.history_charges >= {{ min_occurrences }}

),

screened as (

    -- A cheap first pass over counts only: some cadence range must hold the required share of the
    -- gaps. Every stream the rules below accept passes (its median's range holds that share), and
    -- the costly medians run on the few that are left.
    select
        user_number,
        window_days,
        merchant_key_id

    from windowed
    group by user_number, window_days, merchant_key_id
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
    {{ semi_join() }} screened
        on windowed.user_number = screened.user_number
        and windowed.window_days = screened.window_days
        and windowed.merchant_key_id = screened.merchant_key_id

),

candidate_streams as (

    select
        user_number,
        window_days,
        merchant_key_id,
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
    group by user_number, window_days, merchant_key_id

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
        user_numbers.user_id,
        recurring.window_days,
        merchant_keys.merchant_key,
        merchant_keys.merchant_name,
        recurring.cadence,
        round(recurring.median_amount, 2) as median_amount,
        recurring.occurrence_count,
        recurring.first_date,
        recurring.last_date,
        cast(recurring.last_date + cast(round(recurring.median_gap_days) as integer) as date)
            as next_expected_date,
        recurring.median_gap_days,
        recurring.gap_share_in_cadence,
        recurring.amount_cv,
        -- Multiply before dividing: 12.00 a week is exactly 52.00 a month.
        round(recurring.median_amount * recurring.periods_per_year / 12.0, 2) as monthly_cost,
        recurring.charges_in_window,
        round(recurring.spend_in_window, 2) as spend_in_window,
        recurring.charges_in_window > 0 as is_active_in_window

    from recurring
    inner join user_numbers
        on recurring.user_number = user_numbers.user_number
    inner join merchant_keys
        on recurring.merchant_key_id = merchant_keys.merchant_key_id

)

select * from final
