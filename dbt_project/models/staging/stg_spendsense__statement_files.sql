with source as (

    select * from {{ source('raw', 'statement_files') }}

),

renamed as (

    select
        statement_file,
        account_id,
        encoding,
        delimiter,
        headers,
        column_roles,
        -- day_first / month_first for numeric dates, from mapping.json; null: decided from the values.
        date_order as named_date_order,
        -- '.' or ',' from mapping.json; null: decided from the file's values.
        decimal_separator,
        sign_convention = 'outflow_positive' as is_outflow_positive,
        {{ json_string_field('column_roles', 'amount') }} is not null as has_amount_column,
        -- The plausibility bounds of transaction amounts (docs/ingest.md), recorded by the ingest.
        max_abs_amount,
        min_abs_amount,
        rows_read

    from source

)

select * from renamed
