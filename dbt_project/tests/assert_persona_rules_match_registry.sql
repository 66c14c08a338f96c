-- Failure means the persona rules (macros/persona_rules.sql) and the persona registry
-- (seeds/personas.csv) list different personas: a persona with rules that is not a target persona
-- of the registry (it would have no priority), or a target persona without rules (it could never
-- be assigned). Each row names the persona and the side it is missing from.
{%- set rule_personas = persona_rules() | map(attribute='persona') | list %}

with registry_targets as (

    select persona from {{ ref('personas') }}
    where is_target

),

rule_personas as (

    select rules.persona
    from (
        values
        {%- for persona in rule_personas %}
        ('{{ persona }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as rules (persona)

),

final as (

    select
        coalesce(rule_personas.persona, registry_targets.persona) as persona,
        case
            when registry_targets.persona is null then 'registry (no target persona of that name)'
            else 'macros/persona_rules.sql (no rules)'
        end as missing_from

    from rule_personas
    full outer join registry_targets
        on rule_personas.persona = registry_targets.persona
    where rule_personas.persona is null
        or registry_targets.persona is null

)

select * from final
