"""Every warehouse read of the app's pages, each in a rolled-back read-only transaction of its own connection
(as the ad-hoc sync reads do), so no page can change the warehouse. Values are bound parameters; the only
names formatted into SQL are the project's own schema and table names and columns read from the catalog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from reverse_etl.errors import CdpError, WarehouseError
from reverse_etl.identity import IdentityLookup
from reverse_etl.project import Target, connect
from reverse_etl.sync import state
from reverse_etl.warehouse import quote

NUMERIC_TYPES = ("BIGINT", "INTEGER", "DOUBLE", "DOUBLE PRECISION", "NUMERIC", "DECIMAL", "REAL", "FLOAT")


def read_only(target: Target, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of one query run in a read-only transaction that is always rolled back."""
    connection = connect(target)
    try:
        if target.type == "postgres":
            cursor = connection.cursor()
            cursor.execute("set transaction read only")
            cursor.execute(sql.replace("?", "%s"), tuple(params))
            rows = cursor.fetchall()
        else:
            connection.execute("begin transaction read only")
            rows = connection.execute(sql, list(params)).fetchall()
        return [tuple(row) for row in rows]
    except CdpError:
        raise
    except Exception as error:  # noqa: BLE001 - any driver error is reported as one warehouse error
        raise WarehouseError(f"{target.describe()}: {str(error).splitlines()[0]}") from error
    finally:
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - a failed transaction is gone already
            pass
        connection.close()


class ReadOnlyLookup(IdentityLookup):
    """`cdp identity explain`'s lookups, through read-only transactions."""

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return read_only(self.target, sql, params)
        except WarehouseError as error:
            if "identity_graph" in str(error) or "int_identifiers_validated" in str(error):
                raise WarehouseError(
                    f"the identity graph is not built on {self.target.describe()}; run `cdp dbt build` first"
                ) from error
            raise


def has_sync_state(target: Target) -> bool:
    """Has any sync run here yet (the state tables exist)? Pages read them only then: creating them is a write."""
    return bool(read_only(target, state.EXISTS_SQL, (state.SCHEMA,)))


def run_history(target: Target, sync_name: str, limit: int) -> list[dict[str, Any]]:
    """The sync's latest runs, newest first, each with its duration."""
    if not has_sync_state(target):
        return []
    present = read_only(
        target,
        "select column_name from information_schema.columns where table_schema = ? and table_name = 'runs'",
        (state.SCHEMA,),
    )
    selected = state.runs_select({name for (name,) in present}, state.RUN_COLUMNS)
    rows = read_only(
        target,
        f"select {selected} from {state.SCHEMA}.runs where sync_name = ? "  # noqa: S608
        "order by started_at desc limit ?",
        (sync_name, int(limit)),
    )
    runs = []
    for row in rows:
        run = dict(zip(state.RUN_COLUMNS, row, strict=True))
        started, finished = run["started_at"], run["finished_at"]
        run["duration"] = f"{(finished - started).total_seconds():.1f} s" if started and finished else ""
        runs.append(run)
    return runs


def reject_page(
    target: Target, sync_name: str, search: str, offset: int, limit: int
) -> tuple[list[tuple[Any, ...]], int]:
    """Rejected rows of one sync whose key or error contains `search` (any case): one page, and how many match."""
    if not has_sync_state(target):
        return [], 0
    pattern = f"%{search.strip().lower()}%"
    where = (
        f"from {state.SCHEMA}.snapshots where sync_name = ? and status = 'rejected' "
        "and (lower(record_key) like ? or lower(coalesce(last_error, '')) like ?)"
    )
    params = (sync_name, pattern, pattern)
    total = read_only(target, f"select count(*) {where}", params)[0][0]  # noqa: S608 - constant names
    rows = read_only(
        target,
        f"select record_key, attempts, last_error {where} order by record_key limit ? offset ?",  # noqa: S608
        (*params, int(limit), int(offset)),
    )
    return rows, int(total)


def segment_names(target: Target) -> list[tuple[str, int]]:
    return read_only(
        target,
        "select segment_name, count(*) filter (where exited_at is null) from segments.segment_memberships "
        "group by segment_name order by segment_name",
    )


def segment_builds(target: Target, segment: str) -> list[tuple[dt.datetime, int, int, int]]:
    """Per build (each distinct entered/exited time): entries, exits, and the size right after it."""
    rows = read_only(
        target,
        """
        with changes as (
            select entered_at as changed_at, 1 as entries, 0 as exits
            from segments.segment_memberships where segment_name = ?
            union all
            select exited_at, 0, 1 from segments.segment_memberships where segment_name = ? and exited_at is not null
        )
        select changed_at, sum(entries), sum(exits) from changes group by changed_at order by changed_at
        """,
        (segment, segment),
    )
    builds, size = [], 0
    for changed_at, entries, exits in rows:
        size += int(entries) - int(exits)
        builds.append((changed_at, int(entries), int(exits), size))
    return builds


def trait_comparison(target: Target, segment: str, limit: int = 8) -> list[tuple[str, float, float]]:
    """Numeric traits whose segment average differs most from the whole base: (trait, segment, base)."""
    columns = [
        name
        for name, kind in read_only(
            target,
            "select column_name, upper(data_type) from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'customer_traits' order by ordinal_position",
        )
        if kind in NUMERIC_TYPES
    ]
    if not columns:
        return []
    averages = ", ".join(
        f"avg(cast({quote(name)} as double precision)) filter (where member.customer_id is not null), "
        f"avg(cast({quote(name)} as double precision))"
        for name in columns
    )
    (row,) = read_only(
        target,
        f"select {averages} from marts.customer_traits as traits left join (select distinct customer_id "  # noqa: S608
        "from segments.segment_memberships where segment_name = ? and exited_at is null) as member "
        "on member.customer_id = traits.customer_id",
        (segment,),
    )
    found = []
    for position, name in enumerate(columns):
        inside, base = row[2 * position], row[2 * position + 1]
        if inside is None or base is None:
            continue
        found.append((name, float(inside), float(base)))
    found.sort(key=lambda item: abs(item[1] - item[2]) / (abs(item[2]) or 1.0), reverse=True)
    return found[:limit]


def cluster_sizes(target: Target) -> list[tuple[int, int]]:
    """How many customers have 1, 2, 3 ... identifiers."""
    rows = read_only(
        target,
        "select size, count(*) from (select customer_id, count(*) as size from identity.identity_graph "
        "group by customer_id) as clusters group by size order by size",
    )
    return [(int(size), int(count)) for size, count in rows]


def customer_identifiers(target: Target, customer_id: str) -> list[tuple[str, str]]:
    return read_only(
        target,
        "select identifier_type, identifier_value from identity.identity_graph where customer_id = ? "
        "order by identifier_type, identifier_value",
        (customer_id,),
    )


def customer_record(target: Target, customer_id: str) -> dict[str, Any]:
    rows = read_only(target, "select * from marts.customers where customer_id = ?", (customer_id,))
    if not rows:
        return {}
    names = [
        name
        for name, _ in read_only(
            target,
            "select column_name, ordinal_position from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'customers' order by ordinal_position",
        )
    ]
    return dict(zip(names, rows[0], strict=False))
