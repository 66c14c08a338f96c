{{ config(materialized='table') }}

-- One row per distinct merchant name of raw.transactions with its normalised key (macro
-- merchant_key, shared with the CSV statements). A lookup of its own so the regular expressions run
-- once per name, and only the models that group by merchant pay for the join.
with merchant_names as (

    select distinct merchant_name
    from {{ source('raw', 'transactions') }}
    where merchant_name is not null

),

normalised as (

    select
        merchant_name,
        {{ merchant_key('merchant_name') }} as merchant_key

    from merchant_names

),

final as (

    select
        merchant_name,
        merchant_key,
        -- An integer stand-in for merchant_key: sorting and grouping millions of charges by an
        -- integer is several times faster than by a string.
        case
            when merchant_key is not null then dense_rank() over (order by merchant_key)
        end as merchant_key_id

    from normalised

)

select * from final
