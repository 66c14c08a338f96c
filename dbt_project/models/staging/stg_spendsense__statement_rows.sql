with source as (

    select * from {{ source('raw', 'statement_rows') }}

),

renamed as (

    select
        statement_file,
        line_number,
        account_id,
        row_text,
        cell_count,
        header_cell_count,
        -- Blank cells are missing values.
        nullif(trim(date_text), '') as date_text,
        nullif(trim(description_text), '') as description_text,
        nullif(trim(amount_text), '') as amount_text,
        nullif(trim(debit_text), '') as debit_text,
        nullif(trim(credit_text), '') as credit_text,
        nullif(trim(category_text), '') as category_text,
        nullif(lower(trim(status_text)), '') as status_text

    from source

)

select * from renamed
