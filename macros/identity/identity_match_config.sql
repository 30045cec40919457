{#- The fuzzy-matching link source (vars.cdp_matching, written by `cdp match`), or none when it is off:
    {relation: matching.record_groups, models: the matched models, rules: the fuzzy_match identifier type's
    rules, fingerprint: the groups' version}. Enabled without the tables is a compile error naming the fix. -#}
{% macro identity_match_config() -%}
    {%- set matching = var('cdp_matching', none) -%}
    {%- if matching is not mapping or not matching.get('enabled', false) -%}{{ return(none) }}{%- endif -%}
    {%- set where = "dbt_project.yml: vars.cdp_matching" -%}
    {%- set identity = matching.get('identity') or {} -%}
    {%- if identity is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ ".identity must be a mapping of the fuzzy_match identifier's rules (priority, max_linked_identifiers, max_per_customer)") }}
    {%- endif -%}
    {%- set rules = {'priority': identity.get('priority', 99), 'max_linked_identifiers': identity.get('max_linked_identifiers', 20), 'max_per_customer': identity.get('max_per_customer')} -%}
    {%- for name, value in rules.items() if value is not none and (value is not number or value < 1) -%}
        {{ exceptions.raise_compiler_error(where ~ ".identity." ~ name ~ " must be a whole number of at least 1, got " ~ value) }}
    {%- endfor -%}
    {%- set models = (matching.get('sources') or []) | map(attribute='model') | list -%}
    {%- set found = {'relation': none, 'fingerprint': 'unbuilt'} -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(database=(target.database or none), schema='matching', identifier='record_groups') -%}
        {%- set version = adapter.get_relation(database=(target.database or none), schema='matching', identifier='record_groups_version') -%}
        {%- if relation is none or version is none -%}
            {{ exceptions.raise_compiler_error(where ~ ".enabled is true but matching.record_groups does not exist: run `cdp match` before building the identity models") }}
        {%- endif -%}
        {%- do found.update({'relation': relation, 'fingerprint': run_query("select max(fingerprint) from " ~ version).columns[0].values()[0]}) -%}
    {%- endif -%}
    {{ return({'relation': found.relation, 'models': models, 'rules': rules, 'fingerprint': found.fingerprint}) }}
{%- endmacro %}
