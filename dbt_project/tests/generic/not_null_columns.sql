{#- Fails with one row per listed column that holds a null, with the number of null rows. One test
    (one query, one dbt node) per model instead of one per column: each dbt node costs a fixed
    ~0.1 s of dbt's own time, whatever the data (docs/performance.md). -#}
{% test not_null_columns(model, columns) %}

with null_counts as (

    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from {{ model }}

)

{% for column in columns -%}
select
    '{{ column }}' as column_name,
    nulls_{{ loop.index }} as null_rows
from null_counts
where nulls_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}

{% endtest %}
