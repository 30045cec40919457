{#- The attributes of the golden record that take a survivorship rule: the customers columns each one fills
    (taken together from the winning record, so an address is never mixed from two records) and the sources
    that offer candidate values. Email and phone sources follow vars.cdp_identity.sources. -#}
{% macro survivorship_attributes() -%}
    {{ return(adapter.dispatch('survivorship_attributes', 'cdp')()) }}
{%- endmacro %}

{% macro default__survivorship_attributes() -%}
    {%- set labels = cdp.survivorship_source_labels() -%}
    {%- set identity_sources = var('cdp_identity', {}).get('sources', []) if var('cdp_identity', {}) is mapping else [] -%}
    {%- set contact_sources = {'email': [], 'phone': []} -%}
    {%- for source in identity_sources if source is mapping -%}
        {%- for identifier_type in (source.get('identifiers') or {}).values() if identifier_type in contact_sources -%}
            {%- set label = labels.get(source.model, source.model) -%}
            {%- if label not in contact_sources[identifier_type] -%}
                {%- do contact_sources[identifier_type].append(label) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return({
        'name': {'columns': ['first_name', 'last_name'], 'sources': ['crm', 'web']},
        'address': {'columns': ['street', 'city', 'postal_code', 'country_code'], 'sources': ['crm']},
        'primary_email': {'columns': ['primary_email'], 'sources': contact_sources['email']},
        'primary_phone': {'columns': ['primary_phone'], 'sources': contact_sources['phone']},
    }) }}
{%- endmacro %}
