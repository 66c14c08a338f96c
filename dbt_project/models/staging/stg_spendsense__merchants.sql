{{ config(materialized='table') }}
{#- Trailing store numbers and reference codes, any number of them in a row: "#1234" / "*ab12cd",
    "store 0042" (also str, location, loc, unit, no), or a last token with a digit ("0042"). -#}
{%- set store_suffix = [
    '\s*[#*]\s*[a-z]*[0-9][a-z0-9]*',
    '\s+(store|str|location|loc|unit|no)\s*#?\s*[0-9]+',
    '\s+[a-z]*[0-9][a-z0-9]*',
] %}

-- One row per distinct merchant name of raw.transactions with its normalised key. A lookup of its
-- own so the regular expressions run once per name, and only the models that group by merchant
-- pay for the join.
with merchant_names as (

    select distinct merchant_name
    from {{ source('raw', 'transactions') }}
    where merchant_name is not null

),

cleaned as (

    select
        merchant_name,
        -- Lower case, apostrophes dropped, punctuation to spaces; '#' and '*' survive for the next step.
        trim(regexp_replace(replace(lower(merchant_name), '''', ''), '[^a-z0-9#*&]+', ' ', 'g'))
            as merchant_text

    from merchant_names

),

keyed as (

    select
        merchant_name,
        merchant_text,
        -- Strip trailing store numbers and reference codes ("#1234", "store 0042", "*ab12cd",
        -- "0042"), so one merchant's branches and charges group into one stream.
        nullif(trim(regexp_replace(
            regexp_replace(
                merchant_text,
                '({{ store_suffix | join("|") }})+$',
                ''
            ),
            '[\s#*]+', ' ', 'g'
        )), '') as merchant_stripped

    from cleaned

),

normalised as (

    select
        merchant_name,
        -- A name made only of a code keeps its cleaned text rather than becoming null.
        coalesce(merchant_stripped, nullif(trim(regexp_replace(merchant_text, '[\s#*]+', ' ', 'g')), ''))
            as merchant_key

    from keyed

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
