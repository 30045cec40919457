{#- An order-independent checksum of the keys `expression` (a string) takes on the rows where `condition` holds:
    the sum of a 32-bit hash of each, as a bigint (0 over no rows). Two sets of keys with the same checksum are
    the same set but for a hash collision; a checksum is only compared with one of the same warehouse. -#}
{% macro key_checksum(expression, condition='1 = 1') -%}
    {{ return(adapter.dispatch('key_checksum', 'cdp')(expression, condition)) }}
{%- endmacro %}

{#- Spark: hash() is a 32-bit Murmur3 hash. -#}
{% macro default__key_checksum(expression, condition) -%}
    coalesce(sum(case when {{ condition }} then cast(hash({{ expression }}) as bigint) else 0 end), 0)
{%- endmacro %}

{#- DuckDB: hash() is 64 bits (unsigned); its remainder keeps the sum within a bigint. -#}
{% macro duckdb__key_checksum(expression, condition) -%}
    cast(coalesce(sum(case when {{ condition }} then hash({{ expression }}) % 2147483647 else 0 end), 0) as bigint)
{%- endmacro %}

{% macro postgres__key_checksum(expression, condition) -%}
    cast(coalesce(sum(case when {{ condition }} then hashtext({{ expression }}) else 0 end), 0) as bigint)
{%- endmacro %}
