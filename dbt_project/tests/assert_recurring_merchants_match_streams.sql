-- Failure means user_features.recurring_merchants disagrees with the active rows of
-- marts.recurring_streams, the table rationales cite.
-- It reads two models: Dagster shows it as a check on the one named here.
{{ config(meta={'dagster': {'ref': {'name': 'user_features'}}}) }}

with active_streams as (

    select
        user_id,
        window_days,
        count(*) as active_stream_count

    from {{ ref('recurring_streams') }}
    where is_active_in_window
    group by user_id, window_days

)

select
    features.user_id,
    features.window_days,
    features.recurring_merchants,
    coalesce(active_streams.active_stream_count, 0) as active_stream_count

from {{ ref('user_features') }} as features
left join active_streams
    on features.user_id = active_streams.user_id
    and features.window_days = active_streams.window_days
where features.recurring_merchants <> coalesce(active_streams.active_stream_count, 0)
