with streams as (

    select * from {{ ref('int_recurring_streams_detected') }}

),

users as (

    select * from {{ ref('stg_spendsense__users') }}

),

final as (

    -- Customers only, like user_features: rationales cite these rows.
    select
        streams.user_id,
        streams.window_days,
        streams.merchant_key,
        streams.merchant_name,
        streams.cadence,
        streams.median_amount,
        streams.occurrence_count,
        streams.first_date,
        streams.last_date,
        streams.next_expected_date,
        streams.monthly_cost,
        streams.charges_in_window,
        streams.is_active_in_window

    from streams
    inner join users
        on streams.user_id = users.user_id
    where users.is_customer

)

select * from final
