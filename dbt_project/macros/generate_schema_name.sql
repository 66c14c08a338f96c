{#- Schemas are exactly staging / intermediate / marts, with no target prefix (docs/data_contract.md):
    the Python stages read marts.* by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
