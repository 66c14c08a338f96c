{#- on-run-start (dbt_project.yml): on Spark, the raw tables the pipeline wrote as Parquet under
    `<warehouse>.spark/inputs/raw/<table>/` (spendsense_dagster/lib/core/spark_inputs.py) become the
    external tables raw.<table> the sources name. Declared again on every run: the Hive metastore keeps
    them between dbt processes, and a re-declared table picks up a new folder's schema. On DuckDB the
    ingest wrote raw.* into the warehouse itself: nothing to do. -#}
{% macro register_spark_inputs() -%}
    {{ return(adapter.dispatch('register_spark_inputs', 'spendsense')()) }}
{%- endmacro %}

{% macro default__register_spark_inputs() -%}
    select 1
{%- endmacro %}

{% macro spark__register_spark_inputs() -%}
    {%- set root = env_var('SPENDSENSE_WAREHOUSE', '../data/warehouse/spendsense.duckdb') ~ '.spark/inputs/raw' -%}
    {%- set tables = ['users', 'accounts', 'transactions', 'liabilities', 'products', 'run_context',
        'rejected_records', 'statement_files', 'statement_rows'] -%}
    {%- if execute -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for table in tables -%}
            {%- do run_query('drop table if exists raw.' ~ table) -%}
            {%- do run_query('create table raw.' ~ table ~ " using parquet location '" ~ root ~ '/' ~ table ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{#- Spark reads string literals as written (spark.sql.parser.escapedStringLiterals, profiles.yml), so
    dbt-spark's \' would stay a backslash: a quote inside a literal dbt writes (unit test fixtures)
    becomes a concatenated chr(39). -#}
{% macro spark__escape_single_quotes(expression) -%}
    {{ expression | replace("'", "' || chr(39) || '") }}
{%- endmacro %}
