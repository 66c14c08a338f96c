{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
        unique_key='as_of_date',
        partition_by=['as_of_date'] if target.type == 'spark' else none,
        on_schema_change='append_new_columns'
    )
}}

-- A run holds one as-of date: its rows replace that date's rows and every other date stays, so a
-- backfill of one day rewrites only that day and a re-run of a day gives the same rows.

with personas as (

    select * from {{ ref('user_personas') }}

),

final as (

    select
        as_of_date,
        user_id,
        window_days,
        persona,
        confidence,
        matched_personas,
        reasoning,
        criteria

    from personas

)

select * from final
