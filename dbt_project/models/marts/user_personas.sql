{#- Rules from persona_rules() (criteria only); the priority order and the fallback persona from the
    registry seed (seeds/personas.csv). Generated columns come first in each step, then `*`. -#}
{%- set personas = persona_rules() %}
{%- set all_criteria = [] %}
{%- for rule in personas %}{% do all_criteria.extend(rule.groups | sum(start=[])) %}{% endfor %}
{%- set fee_window = var('persona_wealth_builder_fee_free_window_days') %}
{#- Per persona: the SQL of its criteria list (feature, value and threshold as JSON, satisfied), the
    name of its match column, and its (persona, criteria) struct for the `criteria` column. -#}
{%- set criteria_arrays = {} %}
{%- set persona_match_columns = [] %}
{%- set persona_criteria = [] %}
{%- for rule in personas %}
{%- set criterion_structs = [] %}
{%- for criterion in rule.groups | sum(start=[]) %}
{%- do criterion_structs.append(make_struct([
    ('feature', "'" ~ criterion.feature ~ "'"),
    ('value', json_value(criterion.value)),
    ('operator', "'" ~ criterion.operator ~ "'"),
    ('threshold', json_value(criterion.threshold)),
    ('satisfied', 'is_' ~ criterion.name ~ '_satisfied'),
])) %}
{%- endfor %}
{%- do criteria_arrays.update({rule.persona: make_array(criterion_structs)}) %}
{%- do persona_match_columns.append(rule.persona ~ '_match') %}
{%- do persona_criteria.append(make_struct([
    ('persona', "'" ~ rule.persona ~ "'"), ('criteria', rule.persona ~ '_criteria')
])) %}
{%- endfor %}

with features as (

    select * from {{ ref('user_features') }}

),

persona_registry as (

    select * from {{ ref('personas') }}

),

registry_by_persona as (

    -- The registry as one row: the priority of each persona with rules, and the fallback for
    -- "no rule matched" (the one persona with is_target = false).
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
        {%- for criterion in all_criteria %}
        coalesce(
            {{ criterion.value }} {{ criterion.operator }} {{ criterion.threshold }}, false
        ) as is_{{ criterion.name }}_satisfied,
        {%- endfor %}
        *

    from features_with_fee_history

),

criteria_scored as (

    -- Strength of a satisfied criterion: 1 for a flag; 0.5 plus half the margin over the threshold
    -- (relative to it, capped at 100 %) for a number. Unsatisfied: 0.
    select
        {%- for criterion in all_criteria %}
        case
            when not is_{{ criterion.name }}_satisfied then 0.0
            {%- if criterion.is_flag %}
            else 1.0
            {%- else %}
            else
                0.5 + 0.5 * coalesce(
                    least(
                        abs({{ criterion.value }} - {{ criterion.threshold }})
                        / nullif(abs({{ criterion.threshold }}), 0),
                        1.0
                    ),
                    1.0
                )
            {%- endif %}
        end as {{ criterion.name }}_strength,
        {%- endfor %}
        *

    from criteria_evaluated

),

personas_evaluated as (

    select
        {%- for rule in personas %}
        {%- set criteria = rule.groups | sum(start=[]) %}
        -- {{ rule.persona }}: every group (AND) has a satisfied criterion (OR).
        (
            {%- for group in rule.groups %}
            {% if not loop.first %}and {% endif %}(
                {%- for criterion in group %}
                {% if not loop.first %}or {% endif %}is_{{ criterion.name }}_satisfied
                {%- endfor %}
            )
            {%- endfor %}
        ) as is_{{ rule.persona }},
        (
            {%- for criterion in criteria %}
            {% if not loop.first %}+ {% endif %}is_{{ criterion.name }}_satisfied::integer
            {%- endfor %}
        ) as {{ rule.persona }}_satisfied_count,
        (
            {%- for criterion in criteria %}
            {% if not loop.first %}+ {% endif %}{{ criterion.name }}_strength
            {%- endfor %}
        ) as {{ rule.persona }}_strength_sum,
        {%- endfor %}
        *

    from criteria_scored

),

personas_scored as (

    select
        {%- for rule in personas %}
        {%- set criterion_count = rule.groups | sum(start=[]) | length %}
        {{ rule.persona }}_satisfied_count / {{ criterion_count }} as {{ rule.persona }}_satisfied_share,
        round(
            0.5 * {{ rule.persona }}_satisfied_count / {{ criterion_count }}
            + 0.5 * coalesce(
                {{ rule.persona }}_strength_sum / nullif({{ rule.persona }}_satisfied_count, 0), 0
            ),
            4
        ) as {{ rule.persona }}_confidence,
        {%- endfor %}
        *

    from personas_evaluated

),

personas_with_registry as (

    -- The registry's one row beside every customer row (a cross join with a single row).
    select
        personas_scored.*,
        registry_by_persona.*

    from personas_scored
    cross join registry_by_persona

),

criteria_listed as (

    -- Per persona, every criterion with the customer's value and whether it holds: the reasoning of a
    -- match, and (all personas) what persona_transitions compares between two dates.
    select
        {%- for rule in personas %}
        {{ criteria_arrays[rule.persona] }} as {{ rule.persona }}_criteria,
        {%- endfor %}
        *

    from personas_with_registry

),

persona_matches as (

    -- Per persona: null, or the reasoning of a match with the registry's priority as first field.
    select
        {%- for rule in personas %}
        case
            when is_{{ rule.persona }} then
                {{ make_struct([
                    ('priority', rule.persona ~ '_priority'),
                    ('persona', "'" ~ rule.persona ~ "'"),
                    ('confidence', rule.persona ~ '_confidence'),
                    ('criteria', rule.persona ~ '_criteria'),
                ]) }}
        end as {{ rule.persona }}_match,
        {%- endfor %}
        *

    from criteria_listed

),

matches_ranked as (

    -- The matches sorted by the registry's priority (the structs' first field).
    select
        {{ array_sort_by_first_field(
            array_filter(make_array(persona_match_columns), 'matched', 'matched is not null'), 'priority'
        ) }} as matches,
        *

    from persona_matches

),

assigned as (

    select
        *,
        {{ array_transform('matches', 'matched', 'matched.persona') }} as matched_personas,
        case
            when {{ array_size('matches') }} > 0 then {{ array_first('matches') }}.confidence
            -- The fallback: how far the customer is from every rule.
            else
                round(
                    1 - greatest(
                        {%- for rule in personas %}
                        {{ rule.persona }}_satisfied_share{% if not loop.last %},{% endif %}
                        {%- endfor %}
                    ),
                    4
                )
        end as confidence,
        cast(to_json(
            {{ array_transform('matches', 'matched', make_struct([
                ('persona', 'matched.persona'),
                ('priority', 'matched.priority'),
                ('confidence', 'matched.confidence'),
                ('criteria', 'matched.criteria'),
            ])) }}
        ) as string) as reasoning,
        cast(to_json({{ make_array(persona_criteria) }}) as string) as criteria

    from matches_ranked

),

final as (

    select
        user_id,
        window_days,
        as_of_date,
        coalesce({{ array_first('matched_personas') }}, fallback_persona) as persona,
        matched_personas,
        confidence,
        reasoning,
        criteria

    from assigned

)

select * from final
