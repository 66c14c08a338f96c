{%- set personas = persona_rules() %}
{%- set all_criteria = [] %}
{%- for rule in personas %}{% for group in rule.groups %}{% do all_criteria.extend(group) %}{% endfor %}{% endfor %}
{%- set fee_window = var('persona_wealth_builder_fee_free_window_days') %}

with features as (

    select * from {{ ref('user_features') }}

),

persona_registry as (

    select * from {{ ref('personas') }}

),

registry_by_persona as (

    -- The registry (seeds/personas.csv) as one row: the priority of each persona with rules, and
    -- the fallback for "no rule matched" (the one persona with is_target = false).
    select
        {%- for rule in personas %}
        any_value(priority) filter (where persona = '{{ rule.persona }}') as {{ rule.persona }}_priority,
        {%- endfor %}
        any_value(persona) filter (where not is_target) as fallback_persona

    from persona_registry

),

features_with_fee_history as (

    -- wealth_builder wants no overdraft/late fee in the last {{ fee_window }} days, also on shorter
    -- windows' rows: read it from the customer's {{ fee_window }}-day row (the row's own window when
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

    -- Rules are generated column-wise from persona_rules(): one pass over the rows, no reshaping.
    select
        *,
        {%- for criterion in all_criteria %}
        coalesce({{ criterion.value }} {{ criterion.operator }} {{ criterion.threshold }}, false)
            as is_{{ criterion.name }}_satisfied{% if not loop.last %},{% endif %}
        {%- endfor %}

    from features_with_fee_history

),

criteria_scored as (

    -- Strength of a satisfied criterion: 1 for a flag; 0.5 plus half the margin over the threshold
    -- (relative to it, capped at 100 %) for a number. Unsatisfied: 0.
    select
        *,
        {%- for criterion in all_criteria %}
        case
            when not is_{{ criterion.name }}_satisfied then 0.0
            {%- if criterion.is_flag %}
            else 1.0
            {%- else %}
            else 0.5 + 0.5 * coalesce(least(
                abs({{ criterion.value }} - {{ criterion.threshold }}) / nullif(abs({{ criterion.threshold }}), 0),
                1.0
            ), 1.0)
            {%- endif %}
        end as {{ criterion.name }}_strength{% if not loop.last %},{% endif %}
        {%- endfor %}

    from criteria_evaluated

),

personas_evaluated as (

    select
        *,
        {%- for rule in personas %}
        {%- set criteria = rule.groups | sum(start=[]) %}
        {%- set satisfied_count -%}
            ({% for criterion in criteria %}is_{{ criterion.name }}_satisfied::integer{% if not loop.last %} + {% endif %}{% endfor %})
        {%- endset %}
        -- {{ rule.persona }}: every group (AND) has a satisfied criterion (OR).
        {% for group in rule.groups -%}
        ({% for criterion in group %}is_{{ criterion.name }}_satisfied{% if not loop.last %} or {% endif %}{% endfor %})
        {%- if not loop.last %}
        and {% endif %}
        {%- endfor %} as is_{{ rule.persona }},
        {{ satisfied_count }} / {{ criteria | length }} as {{ rule.persona }}_satisfied_share,
        round(
            0.5 * {{ satisfied_count }} / {{ criteria | length }}
            + 0.5 * coalesce(
                ({% for criterion in criteria %}{{ criterion.name }}_strength{% if not loop.last %} + {% endif %}{% endfor %})
                / nullif({{ satisfied_count }}, 0),
                0
            ),
            4
        ) as {{ rule.persona }}_confidence{% if not loop.last %},{% endif %}
        {%- endfor %}

    from criteria_scored

),

matches_ranked as (

    -- One entry per matched persona, sorted by the registry's priority (the struct's first field).
    select
        personas_evaluated.*,
        registry_by_persona.fallback_persona,
        list_sort(list_filter(
            [
                {%- for rule in personas %}
                case when is_{{ rule.persona }} then struct_pack(
                    priority := registry_by_persona.{{ rule.persona }}_priority,
                    persona := '{{ rule.persona }}',
                    confidence := {{ rule.persona }}_confidence,
                    criteria := [
                        {%- for group in rule.groups %}
                        {%- set outer_last = loop.last %}
                        {%- for criterion in group %}
                        struct_pack(
                            feature := '{{ criterion.feature }}',
                            value := to_json({{ criterion.value }}),
                            operator := '{{ criterion.operator }}',
                            threshold := to_json({{ criterion.threshold }}),
                            satisfied := is_{{ criterion.name }}_satisfied
                        ){% if not (loop.last and outer_last) %},{% endif %}
                        {%- endfor %}
                        {%- endfor %}
                    ]
                ) end{% if not loop.last %},{% endif %}
                {%- endfor %}
            ],
            lambda matched: matched is not null
        )) as matches

    from personas_evaluated
    cross join registry_by_persona

),

assigned as (

    select
        *,
        list_transform(matches, lambda matched: matched.persona) as matched_personas,
        case
            when len(matches) > 0 then matches[1].confidence
            -- The fallback: how far the customer is from every rule.
            else round(1 - greatest({% for rule in personas %}{{ rule.persona }}_satisfied_share{% if not loop.last %}, {% endif %}{% endfor %}), 4)
        end as confidence,
        cast(to_json(list_transform(
            matches,
            lambda matched: struct_pack(
                persona := matched.persona,
                priority := matched.priority,
                confidence := matched.confidence,
                criteria := matched.criteria
            )
        )) as varchar) as reasoning

    from matches_ranked

),

final as (

    select
        user_id,
        window_days,
        as_of_date,
        coalesce(matched_personas[1], fallback_persona) as persona,
        matched_personas,
        confidence,
        reasoning

    from assigned

)

select * from final
