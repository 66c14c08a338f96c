-- Failure means a customer shows a negative card utilisation, or an average above the maximum:
-- a credit balance or a non-positive limit leaked into the utilisation formula.
select
    user_id,
    window_days,
    avg_utilization,
    max_utilization

from {{ ref('user_features') }}
where avg_utilization < 0
    or max_utilization < 0
    or avg_utilization > max_utilization
    or (credit_card_count = 0 and max_utilization is not null)
