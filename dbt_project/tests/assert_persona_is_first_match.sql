-- Failure means the primary persona is not the highest-priority match: a row whose persona is not
-- the first of matched_personas, or not the registry's fallback although no rule matched, or the
-- fallback listed as a match.
-- It reads the model and the registry seed: Dagster shows it as a check on the model named here.
{{ config(meta={'dagster': {'ref': {'name': 'user_personas'}}}) }}

with personas as (

    select * from {{ ref('user_personas') }}

),

fallback as (

    select persona as fallback_persona from {{ ref('personas') }}
    where not is_target

)

select
    personas.user_id,
    personas.window_days,
    personas.persona,
    personas.matched_personas

from personas
cross join fallback
where ({{ array_size('personas.matched_personas') }} = 0 and personas.persona <> fallback.fallback_persona)
    or (
        {{ array_size('personas.matched_personas') }} > 0
        and personas.persona <> {{ array_first('personas.matched_personas') }}
    )
    or array_contains(personas.matched_personas, fallback.fallback_persona)
