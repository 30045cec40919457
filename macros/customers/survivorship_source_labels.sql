{#- The short source name the golden record reports (in <attribute>_source) for each staging model that
    offers candidate values. A staging model added to vars.cdp_identity.sources without a name here is
    reported under its model name. -#}
{% macro survivorship_source_labels() -%}
    {{ return(adapter.dispatch('survivorship_source_labels', 'cdp')()) }}
{%- endmacro %}

{% macro default__survivorship_source_labels() -%}
    {{ return({
        'stg_crm__contacts': 'crm',
        'stg_segment__identifies': 'web',
        'stg_segment__tracks': 'web_event',
        'stg_segment__pages': 'web_page',
        'stg_segment__users': 'web',
        'stg_app__events': 'app',
        'stg_shop__orders': 'shop',
        'stg_esp__email_events': 'esp',
        'stg_support__tickets': 'support',
        'stg_privacy__consents': 'consent',
        'stg_privacy__requests': 'privacy_request',
        'stg_dmp__cookie_syncs': 'dmp',
        'stg_custom__records': 'custom',
    }) }}
{%- endmacro %}
