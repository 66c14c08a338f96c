-- Rebuilt from the whole history each run (not incremental): a backfilled day changes the
-- transitions into it and out of it.

{%- set criteria_type = {
    'duckdb': '[{"persona": "VARCHAR", "criteria": [{"feature": "VARCHAR", "value": "JSON",'
        ~ ' "operator": "VARCHAR", "threshold": "JSON", "satisfied": "BOOLEAN"}]}]',
    'spark': 'array<struct<persona: string, criteria: array<struct<feature: string, value: variant,'
        ~ ' operator: string, threshold: variant, satisfied: boolean>>>>',
} %}

with history as (

    select * from {{ ref('persona_history') }}

),

sequenced as (

    -- Each row beside the customer's previous materialized as-of date in the same window.
    select
        user_id,
        window_days,
        lag(as_of_date) over by_customer_window as from_as_of_date,
        as_of_date as to_as_of_date,
        lag(persona) over by_customer_window as from_persona,
        persona as to_persona,
        lag(criteria) over by_customer_window as from_criteria,
        criteria as to_criteria

    from history
    window by_customer_window as (partition by user_id, window_days order by as_of_date)

),

transitions as (

    select * from sequenced
    where from_persona is not null and from_persona != to_persona

),

persona_criteria as (

    -- One row per transition, date (from / to) and persona rule.
    select
        user_id,
        window_days,
        to_as_of_date,
        'from' as side,
        {{ explode_array(parse_json_as('from_criteria', criteria_type)) }} as persona_rule
    from transitions
    union all
    select
        user_id,
        window_days,
        to_as_of_date,
        'to' as side,
        {{ explode_array(parse_json_as('to_criteria', criteria_type)) }} as persona_rule
    from transitions

),

criteria_listed as (

    select
        persona_criteria.user_id,
        persona_criteria.window_days,
        persona_criteria.to_as_of_date,
        persona_criteria.side,
        persona_criteria.persona_rule.persona,
        {{ explode_array('persona_criteria.persona_rule.criteria') }} as criterion
    from persona_criteria

),

criteria as (

    select
        criteria_listed.user_id,
        criteria_listed.window_days,
        criteria_listed.to_as_of_date,
        criteria_listed.side,
        criteria_listed.persona,
        criteria_listed.criterion.feature,
        criteria_listed.criterion.operator as comparison,
        criteria_listed.criterion.threshold,
        criteria_listed.criterion.value as feature_value,
        criteria_listed.criterion.satisfied as is_satisfied
    from criteria_listed

),

crossings as (

    -- A criterion that held on one date and not on the other: its feature crossed the threshold.
    select
        earlier.user_id,
        earlier.window_days,
        earlier.to_as_of_date,
        {{ ordered_struct_list_agg([
            ('persona', 'earlier.persona'),
            ('feature', 'earlier.feature'),
            ('operator', 'earlier.comparison'),
            ('threshold', 'earlier.threshold'),
            ('from_value', 'earlier.feature_value'),
            ('to_value', 'later.feature_value'),
            ('satisfied_now', 'later.is_satisfied'),
        ], ['persona', 'feature']) }} as crossed

    from criteria as earlier
    inner join criteria as later
        on
        earlier.user_id = later.user_id
        and earlier.window_days = later.window_days
        and earlier.to_as_of_date = later.to_as_of_date
        and earlier.persona = later.persona
        and earlier.feature = later.feature
        and earlier.comparison = later.comparison
        and {{ json_comparable('earlier.threshold') }} = {{ json_comparable('later.threshold') }}
    where
        earlier.side = 'from'
        and later.side = 'to'
        and earlier.is_satisfied is distinct from later.is_satisfied
    group by earlier.user_id, earlier.window_days, earlier.to_as_of_date

),

final as (

    select
        transitions.user_id,
        transitions.window_days,
        transitions.from_as_of_date,
        transitions.to_as_of_date,
        transitions.from_persona,
        transitions.to_persona,
        coalesce(
            {{ array_distinct_sorted(array_transform('crossings.crossed', 'crossing', 'crossing.feature')) }},
            {{ empty_string_array() }}
        ) as crossed_features,
        coalesce(cast(to_json(crossings.crossed) as string), '[]') as crossed_thresholds

    from transitions
    left join crossings
        on
        transitions.user_id = crossings.user_id
        and transitions.window_days = crossings.window_days
        and transitions.to_as_of_date = crossings.to_as_of_date

)

select * from final
