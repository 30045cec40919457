"""Benchmark: what each identity layer adds on offline records (no shared email or phone), against the
generator's ground truth, and how long fuzzy matching takes.

    python bench/matching.py --people 200000 --offline-share 0.1
    python bench/matching.py --people 200000 --offline-share 0.1 --one-build --seed 43
    python bench/matching.py --people 925000 --offline-share 0.1 --timing-only

On a DuckDB file of `--people` generated people (a share of whom get one offline record), it builds the identity
layer three ways: exact identifiers only (the shipped configuration), composite keys only (plus a key
name_dob_postal: last name, first name, date of birth and postal code, on the CRM contacts and store receipts that
carry all four; support calls carry no postal code), and composite keys plus fuzzy matching (`cdp match` with the project's model, at its threshold). For each it prints the pairwise
precision and recall on pairs (offline record, record of a CRM contact, order or ticket): a pair is predicted
when both are one customer, true when both are one person. Then the fuzzy layer across thresholds: the
composite-key customers joined by the groups that links at or above each threshold form (before the identity
guards, which only cut). It also prints the matching's read, training (into a scratch model file) and scoring
times (wall and CPU), and the load average (the machine may be shared). The threshold table is printed twice:
with the project's model and with the model this run trains on its own records (within the training budgets of
vars.cdp_matching.training, so at this size on a sample of the EM blocks' pairs). `--timing-only` skips the
identity builds and measures only reading, training and scoring (e.g. about 1,000,000 records at 925,000
people).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import ROOT, Warehouse, new_duckdb_warehouse  # noqa: E402
from reverse_etl.generator.load import generate  # noqa: E402
from reverse_etl.matching import model as splink_model  # noqa: E402
from reverse_etl.matching.config import load  # noqa: E402
from reverse_etl.matching.links import ScoredLink, match_groups, score  # noqa: E402
from reverse_etl.matching.records import load_records  # noqa: E402
from reverse_etl.matching.run import run_match  # noqa: E402
from reverse_etl.warehouse import Warehouse as Engine  # noqa: E402

RAW = {
    "stg_crm__contacts": "crm_contacts",
    "stg_shop__orders": "orders",
    "stg_support__tickets": "support_tickets",
}
# Name and date of birth alone are shared by strangers at this size (40 x 40 names, 60 years of birthdays):
# 0.9950 pairwise precision at 200,000 people. The postal code makes the key a person's.
NAME_DOB_POSTAL = {
    "priority": 9,
    "parts": {
        "last_name": "compact",
        "first_name": "compact",
        "date_of_birth": "date",
        "postal_code": "compact",
    },
    "max_linked_identifiers": 20,
}
COMPOSITE_SOURCES = ("stg_crm__contacts", "stg_shop__orders")
THRESHOLDS = [0.5, 0.9, 0.99, 0.999, 0.9999]
Record = tuple[str, str]
T = TypeVar("T")


def project_vars() -> dict:
    return yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]


def build(warehouse: Warehouse, variables: dict) -> float:
    started = time.perf_counter()
    warehouse.dbt(
        "build", "--quiet", "--select", "+identity_records", "--indirect-selection", "cautious",
        "--vars", json.dumps(variables),
    )  # fmt: skip
    return time.perf_counter() - started


def customers(warehouse: Warehouse) -> dict[Record, str]:
    rows = warehouse.query(
        "select source_table, record_id, customer_id from identity.identity_records where is_resolved "
        f"and source_table in ({', '.join(repr(model) for model in RAW)})"
    )
    return {(table, record): customer for table, record, customer in rows}


def truth(warehouse: Warehouse) -> dict[Record, str]:
    model_of = {raw: model for model, raw in RAW.items()}
    rows = warehouse.query(
        "select source_table, record_id, person_id from ground_truth.record_people "
        f"where source_table in ({', '.join(repr(raw) for raw in RAW.values())})"
    )
    return {(model_of[table], record): person for table, record, person in rows}


def quality(assignment: dict[Record, str], people: dict[Record, str]) -> tuple[float, float, int]:
    """Pairwise precision and recall on pairs with an offline record; and how many offline records are
    in a customer with another record."""
    cluster_members: dict[str, list[Record]] = {}
    for record, customer in assignment.items():
        cluster_members.setdefault(customer, []).append(record)
    person_members = Counter(people.values())
    true_positive = predicted = actual = joined = 0
    for record, person in people.items():
        if not record[1].endswith("_o"):
            continue
        actual += person_members[person] - 1
        customer = assignment.get(record)
        if customer is None:
            continue
        mates = [other for other in cluster_members[customer] if other != record]
        joined += bool(mates)
        predicted += len(mates)
        true_positive += sum(people.get(other) == person for other in mates)
    return true_positive / max(predicted, 1), true_positive / max(actual, 1), joined


def with_groups(
    assignment: dict[Record, str], links: list[ScoredLink], threshold: float
) -> dict[Record, str]:
    """The exact-only customers joined by the fuzzy groups at `threshold` (union of both partitions)."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for record, group in match_groups(links, threshold).items():
        node = assignment.get(record, "record:" + "|".join(record))
        left, right = root(node), root("group:" + group)
        if left != right:
            parent[max(left, right)] = min(left, right)
    result = {record: root(customer) for record, customer in assignment.items()}
    for record in match_groups(links, threshold):
        result.setdefault(record, root("record:" + "|".join(record)))
    return result


def timed(work: Callable[[], T]) -> tuple[T, float, float]:
    """`work`'s result, wall seconds and CPU seconds (user + system of every thread of the process, DuckDB's
    too). The CPU seconds hardly depend on the machine's load: on a quiet 2-core machine the wall time lies
    between half of them (both cores busy) and all of them."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def composite_identity(variables: dict) -> dict:
    """The shipped identity configuration plus the composite key name_dob_postal on the offline sources that
    have a postal code."""
    composite = copy.deepcopy(variables["cdp_identity"])
    composite["identifier_types"]["name_dob_postal"] = NAME_DOB_POSTAL
    for source in composite["sources"]:
        if source["model"] in COMPOSITE_SOURCES:
            source["composite_identifiers"] = {
                "name_dob_postal": ["last_name", "first_name", "date_of_birth", "postal_code"]
            }
    return composite


def layers(warehouse: Warehouse, people: dict[Record, str], one_build: bool) -> dict[Record, str]:
    """Build and print the three layers (only the composite-key one with `one_build`); the composite-key
    customers."""
    variables = project_vars()
    results = {}
    if not one_build:
        exact_seconds = build(warehouse, {"cdp_identity": variables["cdp_identity"]})
        results["exact identifiers only"] = (quality(customers(warehouse), people), exact_seconds)
    composite = composite_identity(variables)
    seconds = build(warehouse, {"cdp_identity": composite})
    composite_customers = customers(warehouse)
    results["composite keys only (+ name_dob_postal)"] = (quality(composite_customers, people), seconds)
    if one_build:
        print_layers(results, people)
        return composite_customers
    config = load(ROOT, {"enabled": True})
    run_match(warehouse.target, config)
    matching = {**variables["cdp_matching"], "enabled": True}
    seconds = build(warehouse, {"cdp_identity": composite, "cdp_matching": matching})
    label = f"composite + fuzzy (threshold {config.threshold})"
    results[label] = (quality(customers(warehouse), people), seconds)
    print_layers(results, people)
    return composite_customers


def print_layers(results: dict, people: dict[Record, str]) -> None:
    offline = sum(record[1].endswith("_o") for record in people)
    print(f"\n{offline:,} offline records among {len(people):,} CRM contacts, orders and tickets\n")
    print(f"{'layer':<40} {'precision':>9} {'recall':>7} {'joined':>8} {'build s':>8}")
    for name, ((precision, recall, joined), build_seconds) in results.items():
        print(f"{name:<40} {precision:>9.4f} {recall:>7.4f} {joined:>8,} {build_seconds:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--offline-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timing-only", action="store_true", help="skip the identity builds")
    parser.add_argument(
        "--one-build",
        action="store_true",
        help="build only the composite-key layer: no exact-only build (it joins no offline record) and no "
        "build with the fuzzy groups (the threshold table shows the fuzzy layer before the identity guards)",
    )
    args = parser.parse_args()
    print(f"load average at the start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="cdp-bench-matching-") as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        started = time.perf_counter()
        generate(warehouse.target, people=args.people, seed=args.seed, offline_share=args.offline_share)
        print(f"generated {args.people:,} people in {time.perf_counter() - started:.0f}s")
        if args.timing_only:
            warehouse.dbt("seed", "--quiet")  # staging reads the seeds
            warehouse.dbt("run", "--quiet", "--select", *RAW)  # views over the raw tables
        else:
            people = truth(warehouse)
            composite = layers(warehouse, people, args.one_build)
        config = load(ROOT, {"enabled": True})
        memory = duckdb.connect(":memory:")
        try:
            print(f"load average before matching: {load_average()}")
            started = time.perf_counter()
            records = load_records(Engine(warehouse.target), config, memory)
            read_seconds = time.perf_counter() - started
            scratch = dataclasses.replace(config, model_file=Path(folder) / "model.json")
            train = timed(lambda: splink_model.train(scratch, memory))
            scoring = timed(lambda: score(config, splink_model.load(config), memory))
            links = scoring[0]
            trained_links = [] if args.timing_only else score(scratch, splink_model.load(scratch), memory)
        finally:
            memory.close()
        if not args.timing_only:
            for name, scored in (
                ("the project's model", links),
                ("the model trained in this run", trained_links),
            ):
                print(
                    f"\ncomposite + fuzzy across thresholds with {name} (composite-key customers joined by "
                    "the groups, before guards)"
                )
                print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'joined':>8}")
                for threshold in THRESHOLDS:
                    precision, recall, joined = quality(with_groups(composite, scored, threshold), people)
                    print(f"{threshold:>9} {precision:>9.4f} {recall:>7.4f} {joined:>8,}")
        print(
            f"\nmatching {records:,} records: read {read_seconds:.1f}s, train {train[1]:.1f}s "
            f"(cpu {train[2]:.1f}s), score {scoring[1]:.1f}s (cpu {scoring[2]:.1f}s; {len(links):,} pairs "
            f">= 0.5); train + score {train[1] + scoring[1]:.1f}s, cpu {train[2] + scoring[2]:.1f}s"
        )
        print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
