"""The activation model behind the profile store, on the built demo warehouse: one row per customer of the
customers mart, every identifier the identity graph holds for them (JSON arrays per type), their open segment
memberships, and never a suppressed customer."""

from __future__ import annotations

import json
from collections import defaultdict

from conftest import Warehouse
from reverse_etl.destinations.profile_store import DEFAULT_IDENTIFIERS

MODEL = "activation.sync_profiles__customers"
COLUMNS = DEFAULT_IDENTIFIERS


def test_profiles_hold_every_identifier_and_current_segment_and_no_suppressed_customer(
    built_warehouse: Warehouse,
) -> None:
    rows = built_warehouse.query(
        f"select customer_id, {', '.join(COLUMNS.values())}, segments from {MODEL} order by customer_id"
    )
    customers = {row[0] for row in built_warehouse.query("select customer_id from marts.customers")}
    assert {row[0] for row in rows} == customers and len(rows) == len(customers)
    suppressed = {
        row[0] for row in built_warehouse.query("select customer_id from privacy.suppressed_customers")
    }
    assert suppressed and not suppressed & {row[0] for row in rows}

    graph: dict[tuple[str, str], list[str]] = defaultdict(list)
    for customer_id, kind, value in built_warehouse.query(
        "select customer_id, identifier_type, identifier_value from identity.identity_graph"
    ):
        graph[(customer_id, kind)].append(value)
    segments: dict[str, list[str]] = defaultdict(list)
    for customer_id, name in built_warehouse.query(
        "select customer_id, segment_name from segments.segment_memberships where exited_at is null"
    ):
        segments[customer_id].append(name)

    with_identifiers = 0
    for row in rows:
        customer_id, lists = row[0], [json.loads(text) for text in row[1:]]
        for kind, values in zip(COLUMNS, lists[:-1], strict=True):
            assert sorted(values) == sorted(graph.get((customer_id, kind), [])), (customer_id, kind)
        assert sorted(lists[-1]) == sorted(segments.get(customer_id, []))
        with_identifiers += any(lists[:-1])
    assert with_identifiers == len(rows)
