{#- The identity configuration (var cdp_identity in dbt_project.yml), checked: any mistake is a compile
    error naming the file and the key. Returns the config with every identifier type's defaults filled in. -#}
{% macro identity_config() -%}
    {%- set where = "dbt_project.yml: vars.cdp_identity" -%}
    {%- set config = var('cdp_identity', none) -%}
    {%- if config is none or config is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ " is missing; see docs/identity.md for a complete example") }}
    {%- endif -%}
    {%- set max_rounds = config.get('max_rounds', 40) -%}
    {%- if max_rounds is not number or max_rounds < 1 -%}
        {{ exceptions.raise_compiler_error(where ~ ".max_rounds must be a whole number of at least 1, got " ~ max_rounds) }}
    {%- endif -%}
    {%- set types = config.get('identifier_types') -%}
    {%- if types is not mapping or types | length == 0 -%}
        {{ exceptions.raise_compiler_error(where ~ ".identifier_types must map each identifier type to its rules") }}
    {%- endif -%}
    {%- for pattern in config.get('blocklist_regex', []) -%}
        {{ cdp.check_identity_regex(pattern, where ~ ".blocklist_regex") }}
    {%- endfor -%}
    {%- set checked_types = {} -%}
    {%- for name, rules in types.items() -%}
        {%- set key = where ~ ".identifier_types." ~ name -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
            {{ exceptions.raise_compiler_error(key ~ ": identifier type names are lower-case letters, digits and underscores") }}
        {%- endif -%}
        {%- if rules is not mapping -%}
            {{ exceptions.raise_compiler_error(key ~ " must be a mapping of rules (priority, valid_regex, ...)") }}
        {%- endif -%}
        {%- set known = ['priority', 'normalize', 'fold_gmail', 'parts', 'valid_regex', 'blocklist', 'blocklist_regex', 'max_per_customer', 'max_linked_identifiers'] -%}
        {%- for rule in rules -%}
            {%- if rule not in known -%}
                {{ exceptions.raise_compiler_error(key ~ "." ~ rule ~ " is not a rule; use one of " ~ known | join(', ')) }}
            {%- endif -%}
        {%- endfor -%}
        {%- set priority = rules.get('priority') -%}
        {%- if priority is not number or priority < 1 -%}
            {{ exceptions.raise_compiler_error(key ~ ".priority must be a whole number of at least 1 (1 is the strongest)") }}
        {%- endif -%}
        {%- for limit in ['max_per_customer', 'max_linked_identifiers'] -%}
            {%- if rules.get(limit) is not none and (rules.get(limit) is not number or rules.get(limit) < 1) -%}
                {{ exceptions.raise_compiler_error(key ~ "." ~ limit ~ " must be at least 1, got " ~ rules.get(limit) ~ "; remove the key for no limit") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if rules.get('normalize') not in [none, 'email', 'lower', 'trim'] -%}
            {{ exceptions.raise_compiler_error(key ~ ".normalize must be email, lower or trim, got " ~ rules.get('normalize')) }}
        {%- endif -%}
        {%- if rules.get('valid_regex') is not none -%}
            {{ cdp.check_identity_regex(rules.get('valid_regex'), key ~ ".valid_regex") }}
        {%- endif -%}
        {%- for pattern in rules.get('blocklist_regex', []) -%}
            {{ cdp.check_identity_regex(pattern, key ~ ".blocklist_regex") }}
        {%- endfor -%}
        {%- set parts = cdp.identity_key_parts(rules, key) -%}
        {%- do checked_types.update({name: {
            'priority': priority,
            'normalize': rules.get('normalize', 'trim'),
            'fold_gmail': rules.get('fold_gmail', false),
            'valid_regex': rules.get('valid_regex'),
            'blocklist': (rules.get('blocklist', []) + config.get('blocklist', [])) | map('lower') | list,
            'blocklist_regex': rules.get('blocklist_regex', []) + config.get('blocklist_regex', []),
            'max_per_customer': rules.get('max_per_customer'),
            'max_linked_identifiers': rules.get('max_linked_identifiers'),
            'parts': parts,
        }}) -%}
    {%- endfor -%}
    {%- set matching = cdp.identity_match_config() -%}
    {%- if matching is not none -%}
        {%- if 'fuzzy_match' in checked_types -%}
            {{ exceptions.raise_compiler_error(where ~ ".identifier_types.fuzzy_match: the name is taken by fuzzy matching (vars.cdp_matching); rename the type") }}
        {%- endif -%}
        {%- do checked_types.update({'fuzzy_match': {
            'priority': matching.rules.priority, 'normalize': 'trim', 'fold_gmail': false, 'valid_regex': none,
            'blocklist': [], 'blocklist_regex': [], 'max_per_customer': matching.rules.max_per_customer,
            'max_linked_identifiers': matching.rules.max_linked_identifiers, 'parts': [],
        }}) -%}
    {%- endif -%}
    {%- set sources = config.get('sources') -%}
    {%- if sources is string or sources is not iterable or sources | length == 0 -%}
        {{ exceptions.raise_compiler_error(where ~ ".sources must list at least one model with its identifier columns") }}
    {%- endif -%}
    {%- set checked_sources = [] -%}
    {%- for source in sources -%}
        {%- set key = where ~ ".sources[" ~ loop.index0 ~ "]" -%}
        {%- for required in ['model', 'record_id', 'observed_at'] -%}
            {%- if source is not mapping or source.get(required) is none -%}
                {{ exceptions.raise_compiler_error(key ~ "." ~ required ~ " is missing") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if source.get('changed_at') is not none and source.changed_at is not string -%}
            {{ exceptions.raise_compiler_error(key ~ ".changed_at must name a column of " ~ source.model ~ " (a load or update time), or be left out") }}
        {%- endif -%}
        {%- if source.get('identifiers', {}) is not mapping or (source.get('identifiers') or {}) | length + (source.get('composite_identifiers') or {}) | length == 0 -%}
            {{ exceptions.raise_compiler_error(key ~ ".identifiers must map columns of " ~ source.model ~ " to identifier types") }}
        {%- endif -%}
        {%- for column, type in (source.get('identifiers') or {}).items() -%}
            {%- if type not in checked_types -%}
                {{ exceptions.raise_compiler_error(key ~ ".identifiers." ~ column ~ ": unknown identifier type '" ~ type ~ "'; declare it under " ~ where ~ ".identifier_types (known: " ~ checked_types.keys() | list | sort | join(', ') ~ ")") }}
            {%- endif -%}
            {%- if checked_types[type].parts -%}
                {{ exceptions.raise_compiler_error(key ~ ".identifiers." ~ column ~ ": '" ~ type ~ "' is a composite key; list its columns under " ~ key ~ ".composite_identifiers." ~ type) }}
            {%- endif -%}
        {%- endfor -%}
        {%- set checked_source = {} -%}
        {%- do checked_source.update(source) -%}
        {%- do checked_source.update({'identifiers': source.get('identifiers') or {}}) -%}
        {%- do checked_source.update({'composite_keys': cdp.identity_composite_keys(source, checked_types, key)}) -%}
        {%- do checked_source.update({'match_groups': matching.relation if matching is not none and source.model in matching.models else none}) -%}
        {%- do checked_sources.append(checked_source) -%}
    {%- endfor -%}
    {{ return({'max_rounds': max_rounds, 'identifier_types': checked_types, 'sources': checked_sources}) }}
{%- endmacro %}
