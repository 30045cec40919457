{#- The body of a saved segment's model seg_<name> (models/segments/declared/): its members from seg_declared
    with their golden-record contact fields, suppressed customers left out, ready for a sync. -#}
{% macro saved_segment() -%}
    {%- if not modules.re.match('^seg_[a-z][a-z0-9_]*$', model.name) -%}
        {{ exceptions.raise_compiler_error(model.original_file_path ~ ": a saved segment's model is named seg_<name>") }}
    {%- endif -%}
    {%- set sql -%}
with

declared as (

    select * from {{ ref('seg_declared') }}
    where segment_name = '{{ model.name[4:] }}'

),

customers as (

    select * from {{ ref('customers') }}

),

suppressed as (

    select * from {{ ref('suppressed_customers') }}

),

members as (

    select
        declared.customer_id,
        customers.primary_email as email,
        customers.primary_phone as phone,
        customers.first_name,
        customers.last_name
    from declared
    inner join customers on declared.customer_id = customers.customer_id
    where declared.customer_id not in (select suppressed.customer_id from suppressed)

)

select * from members
    {%- endset -%}
    {{ return(sql) }}
{%- endmacro %}
