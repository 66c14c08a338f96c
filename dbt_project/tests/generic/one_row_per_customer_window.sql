{#- Fails with every (customer, configured window) that has no row in `model`, and every row of
    `model` that is not a (customer, configured window) or repeats one: operators, unknown users and
    duplicates all fail it. -#}
{% test one_row_per_customer_window(model, customers) %}

with expected as (

    select
        customers.user_id,
        windows.window_days

    from {{ customers }} as customers
    cross join (values ({{ var('window_days') | join('), (') }})) as windows (window_days)
    where customers.is_customer

),

actual as (

    select
        user_id,
        window_days,
        count(*) as row_count

    from {{ model }}
    group by user_id, window_days

),

compared as (

    select
        coalesce(expected.user_id, actual.user_id) as user_id,
        coalesce(expected.window_days, actual.window_days) as window_days,
        coalesce(actual.row_count, 0) as row_count,
        expected.user_id is not null as is_expected

    from expected
    full outer join actual
        on expected.user_id = actual.user_id
        and expected.window_days = actual.window_days

)

select * from compared
where not is_expected
    or row_count <> 1

{% endtest %}
