-- Failure means a share or a confidence left [0, 1]: recurring spend exceeded total spend (a
-- stream charge not counted as spend), or the confidence formula is broken.
-- It reads two models: Dagster shows it as a check on the one named here.
{{ config(meta={'dagster': {'ref': {'name': 'user_personas'}}}) }}

select
    features.user_id,
    features.window_days,
    features.subscription_spend_share,
    personas.confidence

from {{ ref('user_features') }} as features
inner join {{ ref('user_personas') }} as personas
    on features.user_id = personas.user_id
    and features.window_days = personas.window_days
where features.subscription_spend_share not between 0 and 1
    or personas.confidence not between 0 and 1
