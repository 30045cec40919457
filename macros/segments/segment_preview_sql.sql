{#- One read-only query sizing a segment rule: its members (segment_members_sql), how many of them consented on
    each channel (has_<channel>_consent), and how many are suppressed (privacy: never activated). -#}
{% macro segment_preview_sql(where_sql, context, channels) -%}
    {%- set columns = [] -%}
    {%- for channel in channels -%}
        {%- do columns.append('has_' ~ channel ~ '_consent') -%}
    {%- endfor -%}
    {%- do columns.append('customer_id in (select segment_suppressed.customer_id from ' ~ context.relations.suppressed_customers ~ ' as segment_suppressed) as is_suppressed') -%}
    {%- set sql -%}
select count(*) as customers, {% for channel in channels %}count(case when has_{{ channel }}_consent then 1 end) as {{ channel }}_consented, {% endfor %}count(case when is_suppressed then 1 end) as suppressed from ({{ segment_members_sql(where_sql, context, columns | join(', ')) }}) as segment_members
    {%- endset -%}
    {{ return(sql | trim) }}
{%- endmacro %}
