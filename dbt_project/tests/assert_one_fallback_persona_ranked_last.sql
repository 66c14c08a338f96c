-- Failure means the persona registry (seeds/personas.csv) does not have exactly one fallback
-- persona (is_target = false) ranked after every target persona: user_personas would name
-- customers who match no rule with no persona, or an arbitrary one. Python's registry loader
-- (spendsense_dagster/lib/core/personas.py) refuses such a file too.
with personas as (

    select * from {{ ref('personas') }}

),

summary as (

    select
        count(*) filter (where not is_target) as fallback_count,
        min(priority) filter (where not is_target) as fallback_priority,
        max(priority) filter (where is_target) as lowest_target_priority

    from personas

)

select * from summary
where fallback_count <> 1
    or fallback_priority <= lowest_target_priority
