{#- Aggregates over one (user, window) group of int_transactions_windowed rows, counting only the
    rows inside the window (the others are there for the cadence look-back). Empty groups give
    0 / false rather than null, so the features of a quiet customer read as "none". -#}
{% macro windowed_aggregate(function, expression, condition) -%}
    {%- set empty_value = {'sum': '0', 'count': '0', 'bool_or': 'false'}[function] -%}
    coalesce({{ function }}({{ expression }}) filter (where is_in_window and ({{ condition }})), {{ empty_value }})
{%- endmacro %}

{% macro window_sum(expression, condition='true') -%}
    {{ windowed_aggregate('sum', expression, condition) }}
{%- endmacro %}

{% macro window_count(condition='true') -%}
    {{ windowed_aggregate('count', '*', condition) }}
{%- endmacro %}

{% macro window_any(condition) -%}
    {{ windowed_aggregate('bool_or', 'true', condition) }}
{%- endmacro %}


{#- a / b, null when b is null or 0 (never a division error, never an invented infinity). -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}
