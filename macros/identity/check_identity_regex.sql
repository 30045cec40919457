{#- Refuse a regular expression that cannot compile (unbalanced brackets or parentheses, a dangling escape,
    a quantifier with nothing to repeat), naming the config key. Patterns are also compiled by Python's re. -#}
{% macro check_identity_regex(pattern, key) -%}
    {%- if pattern is not string or pattern | length == 0 -%}
        {{ exceptions.raise_compiler_error(key ~ ": a regular expression must be a non-empty string, got " ~ pattern) }}
    {%- endif -%}
    {%- set state = {'depth': 0, 'in_class': false, 'escaped': false, 'problem': none, 'previous': ''} -%}
    {%- for character in pattern -%}
        {%- if state.problem is none -%}
            {%- if state.escaped -%}
                {%- do state.update({'escaped': false}) -%}
            {%- elif character == '\\' -%}
                {%- do state.update({'escaped': true}) -%}
            {%- elif state.in_class -%}
                {%- if character == ']' -%}{%- do state.update({'in_class': false}) -%}{%- endif -%}
            {%- elif character == '[' -%}
                {%- do state.update({'in_class': true}) -%}
            {%- elif character == '(' -%}
                {%- do state.update({'depth': state.depth + 1}) -%}
            {%- elif character == ')' -%}
                {%- if state.depth == 0 -%}{%- do state.update({'problem': 'unbalanced )'}) -%}{%- endif -%}
                {%- do state.update({'depth': state.depth - 1}) -%}
            {%- elif character in ['*', '+', '?'] and state.previous in ['', '(', '|'] -%}
                {%- do state.update({'problem': "nothing to repeat before '" ~ character ~ "'"}) -%}
            {%- endif -%}
            {%- do state.update({'previous': character}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if state.problem is none and state.escaped -%}{%- do state.update({'problem': 'dangling backslash'}) -%}{%- endif -%}
    {%- if state.problem is none and state.in_class -%}{%- do state.update({'problem': 'unterminated character set ['}) -%}{%- endif -%}
    {%- if state.problem is none and state.depth > 0 -%}{%- do state.update({'problem': 'missing )'}) -%}{%- endif -%}
    {%- if state.problem is not none -%}
        {{ exceptions.raise_compiler_error(key ~ ": regular expression '" ~ pattern ~ "' does not compile (" ~ state.problem ~ ")") }}
    {%- endif -%}
{%- endmacro %}
