"""The build sequence the Spark tests compare: the same generated data built on DuckDB and on Spark three
times, each build's results read right after it (a later build rewrites the tables):

1. a first build of every seed and model on both (on Spark also one unit test of each model and one data
   test of each kind; DuckDB's builds elsewhere in the suite run all of them);
2. an incremental run after about 1% new records: a new person, a record merging two customers, an order
   of a customer who had none, and a forget (deletion) request;
3. a full refresh after a replay of the forgotten person's record."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from engine_compare import (
    Relation,
    Rows,
    compared_relations,
    record_partition,
    snapshot,
)

from conftest import Warehouse
from identity_queries import customers, two_customers_with_email_and_phone
from reverse_etl.generator.schema import RAW_TABLES
from reverse_etl.project import target_dir

# The first Spark build runs every seed and model (contracts enforced), one unit test of each model
# (spark_unit_tests) and one data test of every kind the project has (each generic test macro, each singular
# test; spark_data_tests), not each instance: every relation is then compared row by row with DuckDB's. Each
# test is a Spark job of its own; `cdp dbt build --target spark` runs every one (docs/scale_out.md). DuckDB
# builds the same seeds and models without tests: the suite's demo builds run every test on DuckDB.
SPARK_FIRST_BUILD = [
    "build",
    "--indirect-selection",
    "empty",
    "--select",
    "resource_type:seed",
    "resource_type:model",
]


def spark_unit_tests(manifest: dict[str, Any]) -> list[str]:
    """One unit test of each model (the first by name), as `unit_test:` selectors; none of the staging models,
    whose unit tests tests/test_spark.py runs on Spark in full."""
    first: dict[str, str] = {}
    for test in sorted(manifest["unit_tests"].values(), key=lambda test: test["name"]):
        if not test["model"].startswith("stg_"):
            first.setdefault(test["model"], test["name"])
    return [f"unit_test:{name}" for name in sorted(first.values())]


def spark_data_tests(manifest: dict[str, Any]) -> list[str]:
    """One data test of each kind in the manifest: the first (by name) of each generic test macro, and every
    singular test."""
    first: dict[str, str] = {}
    for node in sorted(manifest["nodes"].values(), key=lambda node: node["name"]):
        if node["resource_type"] != "test":
            continue
        kind = (node.get("test_metadata") or {}).get("name") or node["name"]
        first.setdefault(kind, node["name"])
    return sorted(first.values())


@dataclass
class Builds:
    duck: Warehouse
    spark: Warehouse
    relations: list[Relation] = field(default_factory=list)
    rows: dict[tuple[str, int], dict[str, Rows]] = field(default_factory=dict)
    partitions: dict[tuple[str, int], set[frozenset[tuple[str, str]]]] = field(default_factory=dict)
    customers: dict[int, dict[str, frozenset[tuple[str, str]]]] = field(default_factory=dict)
    spark_modes: dict[int, str] = field(default_factory=dict)
    # (first customer id, its email, second customer id, its phone): merged by build 2.
    merged: tuple[str, str, str, str] = ("", "", "", "")
    # (customer id, email) of the person forgotten in build 2.
    forgotten: tuple[str, str] = ("", "")

    def insert(self, table: str, *rows: dict[str, Any]) -> None:
        """Rows into a raw table on both engines, every column named (null where a row gives none)."""
        columns = [name for name, _ in RAW_TABLES[table]]
        values, params = [], []
        for row in rows:
            assert set(row) <= set(columns), set(row) - set(columns)
            values.append("(" + ", ".join("?" if name in row else "null" for name in columns) + ")")
            params += [row[name] for name in columns if name in row]
        sql = f"insert into raw.{table} ({', '.join(columns)}) values {', '.join(values)}"
        for warehouse in (self.duck, self.spark):
            warehouse.execute(sql, params)

    def read(self, build: int) -> None:
        for warehouse in (self.duck, self.spark):
            self.rows[warehouse.kind, build] = snapshot(warehouse, self.relations)
            self.partitions[warehouse.kind, build] = record_partition(warehouse)
        self.customers[build] = customers(self.spark)
        self.spark_modes[build] = str(
            self.spark.scalar(
                "select mode from intermediate.identity_component_runs order by run_started_at desc limit 1"
            )
        )


def run_builds(duck: Warehouse, spark: Warehouse, people: int, seed: int) -> Builds:
    builds = Builds(duck, spark)
    for warehouse in (duck, spark):
        warehouse.generate(people=people, seed=seed)
    duck.dbt(*SPARK_FIRST_BUILD)
    manifest = json.loads((target_dir() / "manifest.json").read_text())
    spark.dbt(*SPARK_FIRST_BUILD, *spark_unit_tests(manifest), *spark_data_tests(manifest))
    builds.relations = compared_relations(duck)
    builds.read(1)
    add_new_records(builds)
    for warehouse in (duck, spark):
        warehouse.dbt("run")
    builds.read(2)
    builds.insert(
        "crm_contacts",
        {"contact_id": "crm_replayed", "email": builds.forgotten[1], "first_name": "Again"}
        | {"created_at": dt.datetime(2026, 8, 20), "updated_at": dt.datetime(2026, 8, 20)},
    )
    for warehouse in (duck, spark):
        warehouse.dbt("run", "--full-refresh")
    builds.read(3)
    return builds


def add_new_records(builds: Builds) -> None:
    """About 1% new records, written alike to both engines (their raw tables are equal); chosen on DuckDB,
    whose first build the Spark build equals."""
    duck = builds.duck
    (first_id, first_email, _), (second_id, _, second_phone) = two_customers_with_email_and_phone(duck)
    builds.merged = (first_id, first_email, second_id, second_phone)
    # A brand-new person, and a CRM record with the first customer's email and the second's phone.
    new_person = {
        "contact_id": "crm_new_person",
        "email": "brand.new.person@newmail.io",
        "phone": "+1 202 555 0199",
    }
    bridge = {"contact_id": "crm_bridge", "email": first_email, "phone": second_phone}
    builds.insert(
        "crm_contacts",
        new_person
        | {"first_name": "Brand", "last_name": "New", "country": "US"}
        | _at(dt.datetime(2026, 8, 1, 10)),
        bridge
        | {"first_name": "Bridge", "last_name": "Record", "country": "US"}
        | _at(dt.datetime(2026, 8, 2, 10)),
    )
    # A consented customer without orders places one: they enter the new-customers segment.
    newcomer_email = duck.scalar(
        """
        select customers.primary_email
        from marts.customers as customers inner join marts.customer_traits as traits using (customer_id)
        where traits.orders = 0 and traits.has_marketing_consent and customers.primary_email is not null
          and customers.customer_id not in (?, ?)
        order by customers.customer_id limit 1
        """,
        [first_id, second_id],
    )
    latest_order, latest_load = duck.query("select max(ordered_at), max(received_at) from raw.orders")[0]
    order = {"order_id": "ord_newcomer", "channel": "online", "email": newcomer_email, "status": "completed"}
    builds.insert(
        "orders",
        order
        | {"currency": "USD", "total_amount": 42.0, "ordered_at": latest_order, "received_at": latest_load},
    )
    builds.insert(
        "order_items",
        {"order_item_id": "ord_newcomer_0", "order_id": "ord_newcomer", "product_id": "prd_1"}
        | {"product_category": "shoes", "quantity": 1, "unit_price": 42.0},
    )
    # A buyer with events who lives in a household asks to be forgotten.
    customer_id, email = duck.query(
        """
        select activation.customer_id, activation.email
        from activation.sync_webhook__customers as activation
        inner join marts.customers as customers on customers.customer_id = activation.customer_id
        where activation.orders > 0 and customers.household_id is not null
          and activation.customer_id in (select customer_id from marts.events)
          and activation.customer_id not in (?, ?)
        order by activation.customer_id limit 1
        """,
        [first_id, second_id],
    )[0]
    builds.forgotten = (customer_id, email)
    builds.insert(
        "privacy_requests",
        {"request_id": "prq_spark", "email": email, "request_type": "deletion"}
        | {"requested_at": dt.datetime(2026, 8, 15, 12)},
    )


def _at(moment: dt.datetime) -> dict[str, dt.datetime]:
    return {"created_at": moment, "updated_at": moment}
