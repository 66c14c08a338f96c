-- Failure means a shorter window holds more spend or more transactions than a longer one for the
-- same customer, although every shorter window lies inside the longer ones: the window bounds are
-- wrong.
with features as (

    select * from {{ ref('user_features') }}

)

select
    shorter.user_id,
    shorter.window_days as shorter_window_days,
    shorter.total_spend as shorter_total_spend,
    longer.window_days as longer_window_days,
    longer.total_spend as longer_total_spend

from features as shorter
inner join features as longer
    on shorter.user_id = longer.user_id
    and shorter.window_days < longer.window_days
where shorter.total_spend > longer.total_spend
    or shorter.transaction_count > longer.transaction_count
