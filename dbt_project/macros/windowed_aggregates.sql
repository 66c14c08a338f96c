{#- Aggregates over one (user, window) group of int_transactions_windowed rows. Rows cover the
    look-back; `scope='window'` keeps only those inside the feature window. Empty groups give 0 /
    false rather than null, so features of quiet users read as "none". -#}
{% macro windowed_aggregate(function, expression, condition='true', scope='window') -%}
    {%- if scope not in ('window', 'lookback') -%}
        {{ exceptions.raise_compiler_error("scope must be 'window' or 'lookback', got " ~ scope) }}
    {%- endif -%}
    {%- set scope_filter = 'is_in_window' if scope == 'window' else 'true' -%}
    {%- set empty_value = {'sum': '0', 'count': '0', 'bool_or': 'false'}[function] -%}
    coalesce({{ function }}({{ expression }}) filter (where {{ scope_filter }} and ({{ condition }})), {{ empty_value }})
{%- endmacro %}

{% macro window_sum(expression, condition='true', scope='window') -%}
    {{ windowed_aggregate('sum', expression, condition, scope) }}
{%- endmacro %}

{% macro window_count(condition='true', scope='window') -%}
    {{ windowed_aggregate('count', '*', condition, scope) }}
{%- endmacro %}

{% macro window_any(condition, scope='window') -%}
    {{ windowed_aggregate('bool_or', 'true', condition, scope) }}
{%- endmacro %}


{#- a / b, null when b is null or 0 (never a division error, never an invented infinity). -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}
