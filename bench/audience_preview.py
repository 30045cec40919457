"""Benchmark: the audience builder's live preview at 1,000,000 customers on DuckDB.

    python bench/audience_preview.py --customers 1000000 --events-per-customer 8

Builds synthetic customer_traits, customers, events and suppressed_customers tables (every column of the
customer_traits and customers contracts, plausible values) directly in a DuckDB file, without running the dbt
project, then times the preview query (the segment_preview_sql macro, as the audience builder runs it) for
several rules: AND conditions, an OR group, an event condition, and all of them nested. Prints each rule's
median and worst time over --repeats runs after one warm-up; the target is under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from reverse_etl.audiences.definitions import load_project
from reverse_etl.audiences.preview import preview
from reverse_etl.project import Target, connect
from reverse_etl.warehouse import Warehouse

ROOT = Path(__file__).resolve().parent.parent
CITIES = ["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Lisbon", "Prague", "Dublin"]
EVENTS = ["Product Viewed", "Product Viewed", "Product Added", "Checkout Started", "Page Viewed"]
RULES = {
    "and": {
        "rule": {
            "all": [
                {"consent": "email"},
                {"field": "orders", "op": ">=", "value": 2},
                {"field": "last_order_at", "op": "in last days", "value": 90},
            ]
        }
    },
    "or group": {
        "rule": {
            "any": [
                {"field": "city", "op": "in", "value": ["Berlin", "Paris"]},
                {"field": "revenue", "op": "between", "value": [500, 900]},
                {"field": "monetary_score", "op": "=", "value": 5},
            ]
        }
    },
    "event": {"rule": {"event": "Product Added", "at_least": 2, "in_last_days": 30}},
    "nested": {
        "rule": {
            "all": [
                {"consent": "email"},
                {
                    "any": [
                        {"field": "orders", "op": ">=", "value": 3},
                        {"event": "Product Viewed", "at_least": 3, "in_last_days": 30},
                    ]
                },
                {"none": [{"field": "is_unsubscribed", "op": "is true"}]},
            ]
        }
    },
}


def column_value(name: str, data_type: str) -> str:
    """A SQL expression of plausible values for one contract column, from the row number i."""
    kind = data_type.lower()
    if name == "customer_id":
        return "'c' || i"
    if name == "city":
        return f"({CITIES!r})[1 + i % {len(CITIES)}]"
    if name.endswith("_score"):
        return f"cast(1 + hash(i, '{name}') % 5 as bigint)"
    if "bool" in kind:
        return f"hash(i, '{name}') % 3 = 0"
    if "timestamp" in kind:
        return f"timestamp '2026-06-30' - to_days(cast(hash(i, '{name}') % 720 as integer))"
    if "int" in kind:
        return f"cast(hash(i, '{name}') % 8 as bigint)"
    if "double" in kind:
        return f"(hash(i, '{name}') % 100000) / 100.0"
    return f"'{name}_' || (i % 1000)"


def build(path: Path, customers: int, events_per_customer: int) -> None:
    connection = connect(Target("bench", "duckdb", path=str(path)))
    connection.execute("create schema marts; create schema privacy")
    marts = {
        model["name"]: model["columns"]
        for model in yaml.safe_load((ROOT / "models/marts/_marts__models.yml").read_text())["models"]
    }
    for model in ("customer_traits", "customers"):
        columns = ", ".join(
            f"{column_value(c['name'], c['data_type'])} as {c['name']}"
            for c in marts[model]
            if c["name"] != "as_of_at"
        )
        as_of = ", timestamp '2026-06-30' as as_of_at" if model == "customer_traits" else ""
        connection.execute(
            f"create table marts.{model} as select {columns}{as_of} from range({customers}) as t(i)"
        )  # noqa: S608
    connection.execute(
        f"""create table marts.events as select 'e' || i || '_' || j as event_id, 'c' || i as customer_id,
        ({EVENTS!r})[1 + cast(hash(i, j) % {len(EVENTS)} as bigint)] as event_name,
        timestamp '2026-06-30' - to_days(cast(hash(j, i) % 365 as integer)) as occurred_at
        from range({customers}) as t(i), range({events_per_customer}) as u(j)"""  # noqa: S608
    )
    connection.execute(
        "create table privacy.suppressed_customers as select 'c' || i as customer_id "
        f"from range({customers}) as t(i) where i % 100 = 7"  # noqa: S608
    )
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events-per-customer", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "preview.duckdb"
        started = time.monotonic()
        build(path, arguments.customers, arguments.events_per_customer)
        print(
            f"built {arguments.customers:,} customers, {arguments.customers * arguments.events_per_customer:,} "
            f"events in {time.monotonic() - started:.1f}s"
        )
        warehouse = Warehouse(Target("bench", "duckdb", path=str(path)))
        project = load_project(ROOT)
        for label, definition in RULES.items():
            preview(warehouse, ROOT, definition, project=project)
            times, counts = [], {}
            for _ in range(arguments.repeats):
                result = preview(warehouse, ROOT, definition, project=project)
                times.append(result["seconds"])
                counts = result["counts"]
            print(
                f"{label:9s} median {statistics.median(times):.3f}s  worst {max(times):.3f}s  "
                f"customers {counts['customers']:,}  suppressed {counts['suppressed']:,}"
            )
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
