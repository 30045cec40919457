{#- The identity configuration with the junk values of seeds/identifier_blocklist.csv added to its types'
    blocklists: a row names an identifier type (or * for every declared type) and either an exact value
    (compared lower-cased) or a regular expression (matched against the lower-cased value). The rows also come
    back as `blocklist_rows`, so the build's configuration fingerprint changes when the CSV does. A row naming
    an undeclared type, with both or neither of value and pattern, or with a broken pattern is a compile error. -#}
{% macro identity_with_blocklist_seed(identity) -%}
    {%- set where = 'seeds/identifier_blocklist.csv' -%}
    {%- set rows = cdp.seed_rows('identifier_blocklist', ['lower(trim(identifier_type))', 'lower(trim(value))', 'trim(pattern)'], needed_by=where) -%}
    {%- set declared = identity.identifier_types.keys() | reject('equalto', 'fuzzy_match') | list -%}
    {%- set added = {} -%}
    {%- for name in declared -%}
        {%- do added.update({name: {'blocklist': [], 'blocklist_regex': []}}) -%}
    {%- endfor -%}
    {%- set listed = [] -%}
    {%- for row in rows -%}
        {%- set type, value, pattern = row[0], row[1], row[2] -%}
        {%- set key = where ~ " (identifier_type " ~ type ~ ", " ~ ("value " ~ value if value is not none else "pattern " ~ pattern) ~ ")" -%}
        {%- if type != '*' and type not in declared -%}
            {{ exceptions.raise_compiler_error(key ~ ": '" ~ type ~ "' is not an identifier type; use * or one of " ~ declared | sort | join(', ')) }}
        {%- endif -%}
        {%- if (value is none) == (pattern is none) -%}
            {{ exceptions.raise_compiler_error(key ~ ": give either a value or a pattern in each row") }}
        {%- endif -%}
        {%- if pattern is not none -%}
            {{ cdp.check_identity_regex(pattern, key ~ ".pattern") }}
        {%- endif -%}
        {%- for name in (declared if type == '*' else [type]) -%}
            {%- if value is not none -%}
                {%- do added[name].blocklist.append(value) -%}
            {%- else -%}
                {%- do added[name].blocklist_regex.append(pattern) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do listed.append([type, value or '', pattern or '']) -%}
    {%- endfor -%}
    {%- set types = {} -%}
    {%- for name, rules in identity.identifier_types.items() -%}
        {%- set merged = {} -%}
        {%- do merged.update(rules) -%}
        {%- if name in added -%}
            {%- do merged.update({
                'blocklist': (added[name].blocklist + rules.blocklist) | unique | list,
                'blocklist_regex': (added[name].blocklist_regex + rules.blocklist_regex) | unique | list,
            }) -%}
        {%- endif -%}
        {%- do types.update({name: merged}) -%}
    {%- endfor -%}
    {%- set result = {} -%}
    {%- do result.update(identity) -%}
    {%- do result.update({'identifier_types': types, 'blocklist_rows': listed | sort}) -%}
    {{ return(result) }}
{%- endmacro %}
