"""Every allow-listed call keeps its meaning once sqlglot renders the query (what runs is the rendering, see
reverse_etl.sync.adhoc): each sample below is run as written and as rendered, on DuckDB and on PostgreSQL, and
the answers must be equal. A call whose rendering differs is taken off the allow-list."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from conftest import _require_postgres
from reverse_etl.project import connect
from reverse_etl.sync.adhoc import checked_query
from reverse_etl.sync.adhoc_allowed import ANONYMOUS

# One sample per allowed call, " | " between them.
POSTGRES = """length('abc') | char_length('abc') | octet_length('é') | bit_length('a') | lower('AbC') | upper('abc') | initcap('hello world') |
trim('  a  ') | btrim('xxaxx', 'x') | ltrim('  a') | rtrim('a  ') | lpad('7', 3, '0') | rpad('7', 3, '0') | substr('abcdef', 2, 3) | substring('abcdef' from 2 for 3) | substring('abcdef', 2) |
left('abcdef', 2) | right('abcdef', 2) | position('c' in 'abc') | strpos('abc', 'c') | replace('abc', 'b', 'x') | translate('abc', 'ab', 'xy') | concat('a', 1, null) | concat_ws('-', 'a', 'b') |
split_part('a,b,c', ',', 2) | repeat('ab', 2) | reverse('abc') | starts_with('abc', 'ab') | md5('a') | sha224('a') | sha256('a') | sha384('a') | sha512('a') | encode('abc'::bytea, 'base64') | decode('YWJj', 'base64') |
ascii('a') | chr(65) | format('%s-%s', 'a', 'b') | regexp_replace('a1b2', '[0-9]', '', 'g') | regexp_replace('a1b2', '[0-9]', '') | regexp_match('a1b2', '[0-9]') | regexp_like('abc', 'b') | regexp_count('a1b2', '[0-9]') |
regexp_substr('a1b2', '[0-9]') | regexp_instr('a1b2', '[0-9]') | regexp_split_to_array('a,b', ',') | string_to_array('a,b', ',') | array_to_string(array[1,2], ',') | overlay('abcdef' placing 'xy' from 2) |
abs(-1) | ceil(1.2) | ceiling(1.2) | floor(1.8) | round(1.25, 1) | round(1.5) | trunc(1.99) | trunc(1.99, 1) | sign(-3) | sqrt(16) | cbrt(27) | power(2, 10) | pow(2, 3) | exp(0) | ln(1) | log(100) | log(2, 8) | log10(1000) | mod(7, 3) | div(7, 2) |
greatest(1, 3, 2) | least(1, 3, 2) | pi() | degrees(pi()) | radians(180) | width_bucket(5, 0, 10, 5) |
date_trunc('month', timestamp '2024-03-15 10:00') | date_part('year', timestamp '2024-03-15') | extract(dow from date '2024-03-15') | age(timestamp '2024-03-15', timestamp '2024-01-01') |
make_date(2024, 2, 29) | make_timestamp(2024, 2, 29, 1, 2, 3) | make_interval(days => 3) | to_char(timestamp '2024-03-15 10:00', 'YYYY-MM') | to_date('2024-03-15', 'YYYY-MM-DD') | to_timestamp(0) | to_timestamp('2024-03-15', 'YYYY-MM-DD') |
justify_days(interval '35 days') | justify_hours(interval '27 hours') | justify_interval(interval '1 mon -1 hour') | date_bin('15 minutes', timestamp '2024-01-01 10:07', timestamp '2024-01-01') | isfinite(date '2024-01-01') |
timezone('UTC', timestamptz '2024-01-01 10:00+02') | coalesce(null, 2) | nullif(1, 1) | num_nulls(1, null) | num_nonnulls(1, null) | date '2024-01-31' + interval '1 month' | date '2024-03-01' - 1 | current_date - date '2024-01-01' > 0 |
json_extract_path('{"a": {"b": 1}}'::json, 'a', 'b')::text | json_extract_path_text('{"a": 1}'::json, 'a') | jsonb_extract_path('{"a": 1}'::jsonb, 'a') | jsonb_extract_path_text('{"a": 1}'::jsonb, 'a') | '{"a": 1}'::jsonb ->> 'a' | ('{"a": {"b": 2}}'::jsonb -> 'a') ->> 'b' | '{"a": {"b": 2}}'::jsonb #>> '{a,b}' |
json_build_object('a', 1)::text | jsonb_build_object('a', 1) | json_build_array(1, 2)::text | jsonb_build_array(1, 2) | to_json('a'::text)::text | to_jsonb(1) | json_typeof('1'::json) | jsonb_typeof('[]'::jsonb) | json_array_length('[1,2]'::json) | jsonb_array_length('[1]'::jsonb) |
'{"a": 1}'::jsonb @> '{"a": 1}' | '{"a": 1}'::jsonb ? 'a' | array_length(array[1,2,3], 1) | cardinality(array[1,2]) | array_position(array[1,2], 2) | array_append(array[1], 2) | array_prepend(0, array[1]) | array_cat(array[1], array[2]) | array_remove(array[1,2], 1) |
array_lower(array[1], 1) | array_upper(array[1,2], 1) | array[1,2] @> array[1] | array[1] <@ array[1,2] | array[1,2] && array[2] | 'abc' ~ 'b' | 'abc' ~* 'B' | 'abc' ilike 'A%' | 'abc' similar to 'a%' | case when 1 > 0 then 'y' else 'n' end | cast('12' as integer) | '1.5'::numeric(4,2) |
'a' collate "C" < 'b' | clock_timestamp() is not null |
make_timestamptz(2024, 1, 1, 0, 0, 0, 'UTC') | regexp_matches('a1', '[0-9]') | (select row_to_json(d)::text from (select 1 as a, 'x' as b) as d) |
statement_timestamp() is not null | transaction_timestamp() is not null"""
DUCKDB = """length('abc') | len('abc') | lower('AbC') | upper('abc') | lcase('A') | ucase('a') | trim('  a  ') | ltrim('  a') | rtrim('a  ') | lpad('7', 3, '0') | rpad('7', 3, '0') | substr('abcdef', 2, 3) | substring('abcdef', 2) | left('abcdef', 2) | right('abcdef', 2) |
strpos('abc', 'c') | instr('abc', 'c') | position('c' in 'abc') | replace('abc', 'b', 'x') | translate('abc', 'ab', 'xy') | concat('a', 1, null) | concat_ws('-', 'a', 'b') | split_part('a,b,c', ',', 2) | string_split('a,b', ',') | str_split('a,b', ',') | repeat('ab', 2) | reverse('abc') |
starts_with('abc', 'ab') | ends_with('abc', 'bc') | contains('abc', 'b') | prefix('abc', 'a') | suffix('abc', 'c') | md5('a') | sha256('a') | sha1('a') | hash('a') | regexp_matches('abc', 'b') | regexp_replace('a1b2', '[0-9]', '', 'g') | regexp_replace('a1b2', '[0-9]', '') |
regexp_extract('a1b2', '[0-9]') | regexp_extract('a1b2', '([a-z])([0-9])', 2) | regexp_extract_all('a1b2', '[0-9]') | regexp_full_match('abc', 'a.c') | regexp_split_to_array('a,b', ',') | strip_accents('é') | levenshtein('kitten', 'sitting') | jaro_winkler_similarity('a', 'ab') |
damerau_levenshtein('ab', 'ba') | jaccard('ab', 'ac') | format('{}-{}', 'a', 'b') | printf('%s-%d', 'a', 1) | to_base64('abc'::blob) | from_base64('YWJj') | base64('abc'::blob) | ascii('a') | chr(65) | array_to_string([1,2], ',') |
date_trunc('month', timestamp '2024-03-15 10:00') | datetrunc('month', date '2024-03-15') | date_part('year', timestamp '2024-03-15') | datepart('year', date '2024-03-15') | extract(dow from date '2024-03-15') | date_diff('day', date '2024-01-01', date '2024-03-01') | datediff('day', date '2024-01-01', date '2024-03-01') |
date_add(date '2024-01-31', interval 1 month) | age(timestamp '2024-03-15', timestamp '2024-01-01') | make_date(2024, 2, 29) | make_timestamp(2024, 2, 29, 1, 2, 3) | make_time(1, 2, 3) | strftime(timestamp '2024-03-15 10:00', '%Y-%m') |
strptime('2024-03-15', '%Y-%m-%d') | try_strptime('x', '%Y') | epoch(timestamp '2024-01-01') | epoch_ms(0) | to_timestamp(0) | last_day(date '2024-02-10') | dayname(date '2024-03-15') | monthname(date '2024-03-15') | year(date '2024-03-15') | month(date '2024-03-15') | day(date '2024-03-15') |
hour(timestamp '2024-03-15 10:00') | minute(timestamp '2024-03-15 10:07') | second(timestamp '2024-03-15 10:07:09') | week(date '2024-03-15') | weekofyear(date '2024-03-15') | quarter(date '2024-03-15') | dayofweek(date '2024-03-15') | dayofmonth(date '2024-03-15') | dayofyear(date '2024-03-15') |
isodow(date '2024-03-17') | isoyear(date '2024-12-30') | yearweek(date '2024-03-15') | to_days(3) | to_months(2) | to_years(1) | to_hours(2) | to_minutes(2) | to_seconds(2) | to_weeks(1) | time_bucket(interval '15 minutes', timestamp '2024-01-01 10:07') | date '2024-01-31' + interval '1 month' | date '2024-03-01' - interval 1 day |
date '2024-03-01' - 1 | greatest(1, 3, 2) | least(1, 3, 2) | coalesce(null, 2) | ifnull(null, 2) | nullif(1, 1) | if(1 > 0, 'y', 'n') | abs(-1) | ceil(1.2) | ceiling(1.2) | floor(1.8) | round(1.25, 1) | round(1.5) | trunc(1.99) | sign(-3) | sqrt(16) | cbrt(27) | pow(2, 3) | power(2, 10) | exp(0) | ln(1) | log(100) | log2(8) | log10(1000) |
mod(7, 3) | pi() | degrees(pi()) | radians(180) | isnan('nan'::double) | isinf('inf'::double) | isfinite(1.0) | json_extract('{"a": 1}', '$.a') | json_extract_string('{"a": 1}', '$.a') | json_extract_path('{"a": 1}', 'a') | json_extract_path_text('{"a": 1}', 'a') | '{"a": 1}'::json ->> 'a' | '{"a": 1}'::json ->> '$.a' | '{"a": {"b": 2}}'::json -> 'a' |
json_value('{"a": 1}', '$.a') | json_object('a', 1) | json_array(1, 2) | to_json('a') | json_type('1') | json_array_length('[1,2]') | json_keys('{"a": 1}') | json_valid('{') | json_contains('[1,2]', '1') | list_contains([1,2], 2) | list_has([1,2], 2) | array_contains([1,2], 2) | array_length([1,2]) | list_value(1, 2) |
list_extract([1,2], 1) | list_element([1,2], 2) | array_extract([1,2], 1) | list_transform([1,2], lambda x: x + 1) | list_filter([1,2], lambda x: x > 1) | list_sort([2,1]) | list_distinct([1,1]) | list_aggregate([1,2], 'sum') | list_concat([1], [2]) | array_concat([1], [2]) | list_slice([1,2,3], 2, 3) |
array_slice([1,2,3], 2, 3) | list_position([1,2], 2) | list_reverse([1,2]) | list_unique([1,1,2]) | flatten([[1],[2]]) | struct_extract({'a': 1}, 'a') | struct_pack(a := 1) | list_has_any([1], [1,2]) | list_has_all([1,2], [1]) | array_has([1], 1) | typeof(1) | [1,2][1] | {'a': 1}.a |
'abc' ~ 'b' | regexp_matches('abc', 'B', 'i') | 'abc' ilike 'A%' | 'abc' similar to 'a.*' | case when 1 > 0 then 'y' else 'n' end | cast('12' as integer) | '1.5'::decimal(4,2) | try_cast('x' as integer) | now() is not null"""
# Aggregates and window functions, over the values 1..4 as x.
AGGREGATES = {
    "postgres": [
        "count(*)",
        "count(distinct x)",
        "sum(x)",
        "avg(x)",
        "min(x)",
        "max(x)",
        "bool_and(x > 0)",
        "bool_or(x > 2)",
        "every(x > 0)",
        "string_agg(x::text, ',' order by x)",
        "array_agg(x order by x)",
        "stddev(x)",
        "stddev_pop(x)",
        "stddev_samp(x)",
        "variance(x)",
        "var_pop(x)",
        "var_samp(x)",
        "percentile_cont(0.5) within group (order by x)",
        "percentile_disc(0.5) within group (order by x)",
        "mode() within group (order by x)",
        "corr(x, x)",
        "covar_pop(x, x)",
        "covar_samp(x, x)",
        "json_agg(x order by x)::text",
        "jsonb_agg(x order by x)",
        "json_object_agg(x, x)::text",
        "jsonb_object_agg(x, x)",
        "bit_and(x)",
        "bit_or(x)",
        "count(*) filter (where x > 1)",
    ],
    "duckdb": [
        "count(*)",
        "count(distinct x)",
        "sum(x)",
        "avg(x)",
        "mean(x)",
        "min(x)",
        "max(x)",
        "any_value(x) is not null",
        "arg_max(x, x)",
        "arg_min(x, x)",
        "max_by(x, x)",
        "min_by(x, x)",
        "first(x order by x)",
        "last(x order by x)",
        "list(x order by x)",
        "array_agg(x order by x)",
        "string_agg(x::varchar, ',' order by x)",
        "group_concat(x::varchar, ',' order by x)",
        "listagg(x::varchar, ',' order by x)",
        "median(x)",
        "quantile_cont(x, 0.5)",
        "quantile_disc(x, 0.5)",
        "quantile(x, 0.5)",
        "mode(least(x, 2))",
        "approx_count_distinct(x)",
        "count_if(x > 1)",
        "countif(x > 1)",
        "bool_and(x > 0)",
        "bool_or(x > 2)",
        "stddev(x)",
        "stddev_pop(x)",
        "stddev_samp(x)",
        "variance(x)",
        "var_pop(x)",
        "var_samp(x)",
        "corr(x, x)",
        "covar_pop(x, x)",
        "covar_samp(x, x)",
        "bit_and(x)",
        "bit_or(x)",
        "sumkahan(x)",
        "fsum(x)",
        "product(x)",
        "entropy(x)",
        "kurtosis(x)",
        "skewness(x)",
        "count(*) filter (where x > 1)",
    ],
}
WINDOWS = [
    "row_number() over (order by x)",
    "rank() over (order by x)",
    "dense_rank() over (order by x)",
    "percent_rank() over (order by x)",
    "cume_dist() over (order by x)",
    "ntile(2) over (order by x)",
    "lag(x) over (order by x)",
    "lead(x, 1, 0) over (order by x)",
    "first_value(x) over (order by x)",
    "last_value(x) over (order by x rows between unbounded preceding and unbounded following)",
    "nth_value(x, 2) over (order by x rows between unbounded preceding and unbounded following)",
    "sum(x) over (partition by x % 2 order by x)",
]
VALUES = "(select * from (values (1), (2), (3), (4)) as t(x)) as d"


def samples(dialect: str) -> list[str]:
    singles = POSTGRES if dialect == "postgres" else DUCKDB
    return (
        [f"select {call.strip()} as v" for call in singles.replace("\n", " ").split(" | ")]
        + [f"select {call} as v from {VALUES}" for call in AGGREGATES[dialect]]
        + [f"select {call} as v from {VALUES} order by x" for call in WINDOWS]
    )


def answer(connection: Any, sql: str) -> object:
    try:
        cursor = connection if isinstance(connection, duckdb.DuckDBPyConnection) else connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    except Exception as error:  # noqa: BLE001 - an error is an answer to compare too
        return f"error: {str(error).splitlines()[0]}"


@pytest.mark.parametrize("dialect", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_allowed_calls_answer_the_same_as_written_and_as_rendered(dialect: str) -> None:
    connection: Any = duckdb.connect() if dialect == "duckdb" else connect(_require_postgres())
    try:
        if dialect == "postgres":
            connection.autocommit = True
        differences = []
        for query in samples(dialect):
            rendered = checked_query(query, dialect, "sample")
            written_answer, rendered_answer = answer(connection, query), answer(connection, rendered)
            if written_answer != rendered_answer or str(written_answer).startswith("error"):
                differences.append(f"{query} -> {rendered}: {written_answer} != {rendered_answer}")
        assert differences == []
        written = " ".join(samples(dialect)).lower()
        assert [name for name in sorted(ANONYMOUS[dialect]) if f"{name}(" not in written] == [], (
            "every name has a sample"
        )
    finally:
        connection.close()
