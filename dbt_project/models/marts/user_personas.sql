{%- set criteria = persona_criteria() %}
{%- set fee_window = var('persona_wealth_builder_fee_free_window_days') %}

with features as (

    select * from {{ ref('user_features') }}

),

features_with_fee_history as (

    -- wealth_builder wants no overdraft/late fee in the last {{ fee_window }} days, also on the
    -- 30-day row: read it from the customer's {{ fee_window }}-day row (the row's own window when
    -- {{ fee_window }} is not a configured window).
    select
        *,
        coalesce(
            bool_or(overdraft_or_late_fee_present) filter (where window_days = {{ fee_window }})
                over (partition by user_id),
            overdraft_or_late_fee_present
        ) as has_fee_in_fee_free_window

    from features

),

criteria_evaluated as (

    -- One row per (customer, window, criterion): long format keeps one rule engine for all personas.
    {%- for criterion in criteria %}
    select
        user_id,
        window_days,
        '{{ criterion.persona }}' as persona,
        {{ criterion.priority }} as priority,
        {{ criterion.group_number }} as group_number,
        {{ loop.index }} as criterion_number,
        '{{ criterion.feature }}' as feature,
        '{{ criterion.operator }}' as operator,
        to_json({{ criterion.value }}) as value,
        to_json({{ criterion.threshold }}) as threshold,
        coalesce({{ criterion.value }} {{ criterion.operator }} {{ criterion.threshold }}, false) as is_satisfied,
        {%- if criterion.is_flag %}
        cast(null as double) as relative_margin
        {%- else %}
        abs({{ criterion.value }} - {{ criterion.threshold }}) / nullif(abs({{ criterion.threshold }}), 0)
            as relative_margin
        {%- endif %}

    from features_with_fee_history
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

criteria_scored as (

    -- Strength of a satisfied criterion: 1 for a flag; 0.5 plus half the margin over the threshold
    -- (relative to it, capped at 100 %) for a number. Unsatisfied: 0.
    select
        *,
        case
            when not is_satisfied then 0.0
            when relative_margin is null then 1.0
            else 0.5 + 0.5 * least(relative_margin, 1.0)
        end as strength

    from criteria_evaluated

),

groups_evaluated as (

    select
        user_id,
        window_days,
        persona,
        group_number,
        bool_or(is_satisfied) as is_group_satisfied

    from criteria_scored
    group by user_id, window_days, persona, group_number

),

personas_matched as (

    -- AND over the groups (each group is an OR of criteria).
    select
        user_id,
        window_days,
        persona,
        bool_and(is_group_satisfied) as is_matched

    from groups_evaluated
    group by user_id, window_days, persona

),

personas_scored as (

    select
        user_id,
        window_days,
        persona,
        priority,
        count(*) filter (where is_satisfied) / count(*) as satisfied_share,
        coalesce(avg(strength) filter (where is_satisfied), 0) as mean_strength,
        list(
            struct_pack(feature, value, operator, threshold, satisfied := is_satisfied)
            order by criterion_number
        ) as criteria

    from criteria_scored
    group by user_id, window_days, persona, priority

),

personas as (

    select
        personas_scored.*,
        personas_matched.is_matched,
        round(0.5 * personas_scored.satisfied_share + 0.5 * personas_scored.mean_strength, 4) as confidence

    from personas_scored
    inner join personas_matched
        on personas_scored.user_id = personas_matched.user_id
        and personas_scored.window_days = personas_matched.window_days
        and personas_scored.persona = personas_matched.persona

),

assigned as (

    select
        user_id,
        window_days,
        coalesce(arg_min(persona, priority) filter (where is_matched), 'general_wellness') as persona,
        coalesce(
            list(persona order by priority) filter (where is_matched),
            cast([] as varchar[])
        ) as matched_personas,
        -- Matched: the top persona's confidence. general_wellness: how far every rule is from
        -- matching, 1 - the best share of satisfied criteria.
        coalesce(
            arg_min(confidence, priority) filter (where is_matched),
            round(1 - max(satisfied_share), 4)
        ) as confidence,
        cast(to_json(coalesce(
            list(
                struct_pack(persona, priority, confidence, criteria) order by priority
            ) filter (where is_matched),
            []
        )) as varchar) as reasoning

    from personas
    group by user_id, window_days

),

final as (

    select
        features.user_id,
        features.window_days,
        features.as_of_date,
        assigned.persona,
        assigned.matched_personas,
        assigned.confidence,
        assigned.reasoning

    from features
    inner join assigned
        on features.user_id = assigned.user_id
        and features.window_days = assigned.window_days

)

select * from final
