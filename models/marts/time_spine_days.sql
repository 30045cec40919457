-- One row per day from 2015-01-01 to 2035-12-31: the time spine MetricFlow needs to fill and window metrics by
-- day. Built from 10,000 day numbers (four digits crossed), portable to every warehouse.
with

digits as (

    select digit_values.digit from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as digit_values (digit)

),

day_numbers as (

    select ones.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit as day_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands

),

days as (

    select cast({{ dbt.dateadd('day', 'day_number', "cast('2015-01-01' as date)") }} as date) as date_day
    from day_numbers

),

spine as (

    select date_day from days
    where date_day < cast('2036-01-01' as date)

)

select * from spine
