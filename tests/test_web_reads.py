"""The segment and identity pages' reads on each warehouse, over small hand-made tables of the shapes dbt
builds (segment_memberships, customer_traits, identity_graph): entries, exits and sizes per build, the trait
comparison, and the cluster-size distribution. The pages over a real build are in tests/test_web_browser.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import fresh_warehouse
from reverse_etl.web.reads import (
    cluster_sizes,
    customer_identifiers,
    segment_builds,
    segment_names,
    trait_comparison,
)

FIRST, SECOND = dt.datetime(2026, 5, 1, 6), dt.datetime(2026, 5, 2, 6)


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_segment_and_identity_reads(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    warehouse = fresh_warehouse(kind, request, tmp_path, "cdp_web_reads")
    for schema in ("segments", "marts", "identity"):
        warehouse.execute(f"create schema {schema}")
    warehouse.execute(
        "create table segments.segment_memberships (customer_id varchar, segment_name varchar, "
        "entered_at timestamp, exited_at timestamp)"
    )
    rows = [
        ("c1", "vip", FIRST, None),
        ("c2", "vip", FIRST, SECOND),
        ("c3", "vip", FIRST, None),
        ("c4", "vip", SECOND, None),
        ("c4", "other", SECOND, None),
    ]
    marker = "?" if kind == "duckdb" else "%s"
    for row in rows:
        warehouse.execute(f"insert into segments.segment_memberships values ({', '.join([marker] * 4)})", row)
    warehouse.execute(
        "create table marts.customer_traits (customer_id varchar, orders bigint, revenue double precision, name varchar)"
    )
    for customer, orders, revenue in [
        ("c1", 10, 1000.0),
        ("c3", 6, 500.0),
        ("c4", 2, 100.0),
        ("c5", 0, 0.0),
        ("c6", 2, 0.0),
    ]:
        warehouse.execute(
            f"insert into marts.customer_traits values ({marker}, {marker}, {marker}, 'x')",
            (customer, orders, revenue),
        )
    warehouse.execute(
        "create table identity.identity_graph (identifier_type varchar, identifier_value varchar, customer_id varchar)"
    )
    for identifier in [
        ("email", "a@x.org", "c1"),
        ("phone", "+12025550100", "c1"),
        ("email", "b@x.org", "c3"),
        ("email", "c@x.org", "c4"),
        ("cookie", "k1", "c1"),
    ]:
        warehouse.execute(
            f"insert into identity.identity_graph values ({marker}, {marker}, {marker})", identifier
        )

    target = warehouse.target
    assert segment_names(target) == [("other", 1), ("vip", 3)]
    builds = segment_builds(target, "vip")
    assert [(str(at), entered, exited, size) for at, entered, exited, size in builds] == [
        (str(FIRST), 3, 0, 3),
        (str(SECOND), 1, 1, 3),
    ]
    traits = trait_comparison(target, "vip")
    assert [name for name, _, _ in traits] == ["revenue", "orders"], "numeric traits only, biggest gap first"
    assert traits[0][1] == pytest.approx(1600 / 3) and traits[0][2] == pytest.approx(320.0)
    assert traits[1][1] == pytest.approx(6.0) and traits[1][2] == pytest.approx(4.0)
    assert cluster_sizes(target) == [(1, 2), (3, 1)]
    assert customer_identifiers(target, "c1") == [
        ("cookie", "k1"),
        ("email", "a@x.org"),
        ("phone", "+12025550100"),
    ]
