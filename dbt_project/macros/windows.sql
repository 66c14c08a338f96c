{#- The as-of date D as a SQL expression: the `as_of_date` var when given (a manual `dbt build --vars`,
    a unit test), else the date the ingest resolved for this run in raw.run_context. The pipeline passes
    no per-run vars, so dbt's partial parsing survives from run to run (docs/performance.md). Never the
    wall clock (docs/features.md). -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of is none or as_of | string | trim == '' -%}
        (select as_of_date from {{ source('raw', 'run_context') }})
    {%- else -%}
        cast('{{ as_of | string | trim }}' as date)
    {%- endif -%}
{%- endmacro %}


{#- One row per feature window (docs/features.md): a window of W days holds window_start_date <= date <= D,
    i.e. D - W < date <= D; cadence features look back max(W, cadence_min_lookback_days) days. -#}
{% macro feature_windows() -%}
    {%- set window_days = var('window_days') -%}
    {%- if window_days | length == 0 -%}
        {{ exceptions.raise_compiler_error("var window_days must list at least one window") }}
    {%- endif -%}
    select
        window_days,
        as_of_date,
        cast(as_of_date - window_days + 1 as date) as window_start_date,
        greatest(window_days, {{ var('cadence_min_lookback_days') }}) as lookback_days,
        cast(as_of_date - greatest(window_days, {{ var('cadence_min_lookback_days') }}) + 1 as date)
            as lookback_start_date,
        window_days / 30.0 as months
    from (select {{ as_of_date() }} as as_of_date) as resolved
    cross join (values ({{ window_days | join('), (') }})) as configured (window_days)
{%- endmacro %}
