{#- SQL turning a staging model name (the `column` expression) into the short source name of
    survivorship_source_labels; other models keep their name. -#}
{% macro survivorship_source_label(column) -%}
    {{ return(adapter.dispatch('survivorship_source_label', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__survivorship_source_label(column) -%}
    case {{ column }}
        {%- for model, label in cdp.survivorship_source_labels().items() %}
        when '{{ model }}' then '{{ label }}'
        {%- endfor %}
        else {{ column }}
    end
{%- endmacro %}
