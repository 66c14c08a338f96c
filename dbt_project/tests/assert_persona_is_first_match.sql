-- Failure means the primary persona is not the highest-priority match: a row whose persona is not
-- the first of matched_personas, or general_wellness although some rule matched.
select
    user_id,
    window_days,
    persona,
    matched_personas

from {{ ref('user_personas') }}
where (len(matched_personas) = 0 and persona <> 'general_wellness')
    or (len(matched_personas) > 0 and persona <> matched_personas[1])
    or list_contains(matched_personas, 'general_wellness')
