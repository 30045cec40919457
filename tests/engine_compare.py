"""Row-by-row comparison of one dbt project built on two engines (DuckDB and Spark): every relation of the
compared schemas as an order-independent multiset of normalized rows. The deliberate normalizations are
listed in docs/scale_out.md ("Deliberate differences in results"); nothing else is normalized."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from dataclasses import dataclass
from typing import Any

from conftest import Warehouse

# The schemas whose every relation is compared: the seeds (config), staging, the identity outputs, the marts (every contracted
# mart among them), privacy, segments and activation.
COMPARED_SCHEMAS = ("config", "staging", "identity", "marts", "privacy", "segments", "activation")
# identity_health's measure of the last connected-components run's wall time: a clock reading, not a result.
CLOCK_MEASURES = {"last_run_seconds"}

Rows = Counter[tuple[Any, ...]]


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    columns: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def compared_relations(duck: Warehouse) -> list[Relation]:
    """Every table and view of the compared schemas in the DuckDB build, with its columns in order."""
    placeholders = ", ".join("?" for _ in COMPARED_SCHEMAS)
    rows = duck.query(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in ({placeholders}) order by table_schema, table_name, ordinal_position",
        list(COMPARED_SCHEMAS),
    )
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, name, column in rows:
        columns.setdefault((schema, name), []).append(column)
    return [Relation(schema, name, tuple(names)) for (schema, name), names in columns.items()]


def build_times(warehouse: Warehouse) -> list[dt.datetime]:
    """The start of every build of the warehouse, oldest first: each build records one connected-components
    run stamped with dbt's run_started_at, the time the project writes on the rows a build stamps."""
    return [
        _naive(row[0])
        for row in warehouse.query(
            "select distinct run_started_at from intermediate.identity_component_runs order by 1"
        )
    ]


def build_invocations(warehouse: Warehouse) -> list[str]:
    """dbt's invocation id of every build, oldest first, from the identity build log."""
    return [
        row[0]
        for row in warehouse.query(
            "select invocation_id from intermediate.identity_build_log group by invocation_id order by min(logged_at)"
        )
    ]


def _naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None, microsecond=0) if value.tzinfo else value.replace(microsecond=0)


class Normalizer:
    """The deliberate normalizations: floats and decimals to 6 decimal places; timestamps without a time zone
    at the microsecond (Spark's precision; sessions run in UTC); a build's own start time (run_started_at,
    stamped on suppressions, id history, segment stays, and written into membership ids) replaced by the
    build's ordinal, and so is the build's dbt invocation id (customer_id_history), because the two engines
    build at different moments in different dbt invocations."""

    def __init__(self, builds: list[dt.datetime], invocations: list[str]) -> None:
        self.builds = {moment: f"<build {number}>" for number, moment in enumerate(builds, start=1)}
        self.texts = {moment.strftime("%Y-%m-%d %H:%M:%S"): token for moment, token in self.builds.items()}
        self.texts.update(
            {invocation: f"<build {number}>" for number, invocation in enumerate(invocations, start=1)}
        )

    def __call__(self, value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (float, decimal.Decimal)):
            return round(float(value), 6)
        if isinstance(value, dt.datetime):
            naive = value.replace(tzinfo=None)
            if naive.microsecond == 0 and naive in self.builds:
                return self.builds[naive]
            return naive.isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            for text, token in self.texts.items():
                value = value.replace(text, token)
            return value
        if isinstance(value, (list, tuple)):
            return tuple(self(item) for item in value)
        return value


def relation_rows(warehouse: Warehouse, relation: Relation, normalize: Normalizer) -> Rows:
    quote = "`" if warehouse.kind == "spark" else '"'
    select = ", ".join(f"{quote}{column}{quote}" for column in relation.columns)
    rows = Counter(
        tuple(normalize(value) for value in row)
        for row in warehouse.query(f"select {select} from {relation.qualified}")
    )
    if relation.name == "identity_health":
        rows = Counter({row: count for row, count in rows.items() if row[0] not in CLOCK_MEASURES})
    return rows


def snapshot(warehouse: Warehouse, relations: list[Relation]) -> dict[str, Rows]:
    """Every compared relation's normalized rows, read now (a later build rewrites the tables)."""
    normalize = Normalizer(build_times(warehouse), build_invocations(warehouse))
    return {relation.qualified: relation_rows(warehouse, relation, normalize) for relation in relations}


def differences(expected: dict[str, Rows], actual: dict[str, Rows]) -> list[str]:
    """One line per relation whose rows differ, with an example row from each side."""
    lines = []
    for name, rows in expected.items():
        other = actual.get(name, Counter())
        if rows != other:
            only_expected, only_actual = rows - other, other - rows
            lines.append(
                f"{name}: {sum(only_expected.values())} rows only on duckdb "
                f"(e.g. {next(iter(only_expected), None)}), {sum(only_actual.values())} only on spark "
                f"(e.g. {next(iter(only_actual), None)})"
            )
    return lines


def record_partition(warehouse: Warehouse) -> set[frozenset[tuple[str, str]]]:
    """Which records end up together: identity_records' (source_table, record_id) grouped by customer."""
    groups: dict[str, set[tuple[str, str]]] = {}
    for customer_id, source_table, record_id in warehouse.query(
        "select customer_id, source_table, record_id from identity.identity_records where customer_id is not null"
    ):
        groups.setdefault(customer_id, set()).add((source_table, record_id))
    return {frozenset(members) for members in groups.values()}
