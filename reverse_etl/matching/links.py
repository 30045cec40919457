"""Scoring and the links table. `score` runs the trained model over the configured blocks of the records
table; `write_links` replaces the warehouse table matching.record_links in one transaction:

    source_table_l, record_id_l, source_table_r, record_id_r   the record pair (l < r)
    match_probability, match_weight                             the model's score
    fired_levels                                                the comparison level of every column, '; '-joined
    model_version                                               the model file's content hash
    scored_at                                                   when this run scored it

Pairs are kept from a probability of 0.5 (or the threshold, when lower) up; the threshold in vars.cdp_matching
says which of them are strong enough to link two records: the records they connect form groups
(matching.record_groups: source_table, record_id, match_group), which the identity graph reads as one more
identifier, `fuzzy_match` (docs/identity.md, Fuzzy matching)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import duckdb

from reverse_etl.matching.config import MatchingConfig
from reverse_etl.matching.model import level_labels
from reverse_etl.warehouse import Warehouse, quote, utc_now

SCHEMA, TABLE = "matching", "record_links"
GROUPS, GROUPS_VERSION = "record_groups", "record_groups_version"
TEXT_COLUMNS = [
    "source_table_l",
    "record_id_l",
    "source_table_r",
    "record_id_r",
    "fired_levels",
    "model_version",
]
NUMBER_COLUMNS = ["match_probability", "match_weight"]
KEPT_FROM = 0.5


@dataclass
class ScoredLink:
    source_table_l: str
    record_id_l: str
    source_table_r: str
    record_id_r: str
    match_probability: float
    match_weight: float
    fired_levels: str


def score(
    config: MatchingConfig, model: dict[str, Any], memory: duckdb.DuckDBPyConnection
) -> list[ScoredLink]:
    """Every blocked pair of `memory`'s records table scoring at least KEPT_FROM (or the threshold)."""
    from splink import DuckDBAPI, Linker

    records = DuckDBAPI(connection=memory).register("records")
    linker = Linker(records, model)
    predictions = linker.inference.predict(threshold_match_probability=min(KEPT_FROM, config.threshold))
    labels = level_labels(model)
    relation = predictions.as_duckdbpyrelation()
    gammas = [f"gamma_{name}" for name in labels]
    selected = relation.select(
        ", ".join(["unique_id_l", "unique_id_r", "match_probability", "match_weight", *map(quote, gammas)])
    )
    links = []
    for unique_l, unique_r, probability, weight, *levels in selected.fetchall():
        left, right = sorted([str(unique_l), str(unique_r)])
        fired = "; ".join(
            f"{name}: {labels[name].get(int(level), str(level))}"
            for name, level in zip(labels, levels, strict=True)
        )
        table_l, _, record_l = left.partition("|")
        table_r, _, record_r = right.partition("|")
        links.append(
            ScoredLink(table_l, record_l, table_r, record_r, float(probability), float(weight), fired)
        )
    predictions.drop_table_from_database_and_remove_from_cache()
    return sorted(
        links, key=lambda link: (link.source_table_l, link.record_id_l, link.source_table_r, link.record_id_r)
    )


def match_groups(links: list[ScoredLink], threshold: float) -> dict[tuple[str, str], str]:
    """Each record linked at or above `threshold`, with its group: the records its links connect, named by
    the smallest of them ('<source_table>|<record_id>'), so a group's name does not depend on the run."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(record: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(record, record)
        while parent[record] != record:
            parent[record] = parent[parent[record]]
            record = parent[record]
        return record

    for link in links:
        if link.match_probability >= threshold:
            left, right = (
                root((link.source_table_l, link.record_id_l)),
                root((link.source_table_r, link.record_id_r)),
            )
            if left != right:
                parent[max(left, right)] = min(left, right)
    return {record: "|".join(root(record)) for record in parent}


def write_links(warehouse: Warehouse, links: list[ScoredLink], model_version: str, threshold: float) -> str:
    """Replace matching.record_links with `links`, and matching.record_groups with the groups they form at
    `threshold` (what the identity graph reads), in one transaction: readers see the old or the new set.
    Returns the groups' fingerprint, also kept in matching.record_groups_version."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    number = "double" if warehouse.kind == "duckdb" else "double precision"
    stamp = "timestamp"
    table = f"{quote(SCHEMA)}.{quote(TABLE)}"
    columns = [*TEXT_COLUMNS[:4], *NUMBER_COLUMNS, *TEXT_COLUMNS[4:]]
    with warehouse.transaction():
        warehouse.execute(f"create schema if not exists {quote(SCHEMA)}")
        warehouse.execute(f"drop table if exists {table}")
        definitions = [f"{quote(name)} {number if name in NUMBER_COLUMNS else text}" for name in columns]
        warehouse.execute(f"create table {table} ({', '.join(definitions)}, scored_at {stamp})")
        if links:
            values: dict[str, list[str]] = {name: [] for name in columns}
            for link in links:
                row = {**link.__dict__, "model_version": model_version}
                for name in columns:
                    values[name].append(repr(row[name]) if name in NUMBER_COLUMNS else str(row[name]))
            casts = ", ".join(
                f"cast({quote(name)} as {number})" if name in NUMBER_COLUMNS else quote(name)
                for name in columns
            )
            warehouse.execute(
                f"insert into {table} select {casts}, ? from {warehouse.rows_subquery(columns)} as batch",  # noqa: S608
                [utc_now(), *[values[name] for name in columns]],
            )
        groups = match_groups(links, threshold)
        return _write_groups(warehouse, groups, model_version, threshold)


def _write_groups(
    warehouse: Warehouse, groups: dict[tuple[str, str], str], model_version: str, threshold: float
) -> str:
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    table, version = f"{quote(SCHEMA)}.{quote(GROUPS)}", f"{quote(SCHEMA)}.{quote(GROUPS_VERSION)}"
    warehouse.execute(f"drop table if exists {table}")
    warehouse.execute(f"create table {table} (source_table {text}, record_id {text}, match_group {text})")
    rows = sorted((source_table, record_id, group) for (source_table, record_id), group in groups.items())
    if rows:
        warehouse.execute(
            f"insert into {table} select * from {warehouse.rows_subquery(['source_table', 'record_id', 'match_group'])} as batch",  # noqa: S608
            [list(column) for column in zip(*rows, strict=True)],
        )
    fingerprint = hashlib.sha256(
        "\n".join([model_version, repr(threshold), *("\t".join(row) for row in rows)]).encode()
    ).hexdigest()[:16]
    warehouse.execute(f"drop table if exists {version}")
    warehouse.execute(
        f"create table {version} (fingerprint {text}, model_version {text}, written_at timestamp)"
    )
    warehouse.execute(f"insert into {version} values (?, ?, ?)", (fingerprint, model_version, utc_now()))  # noqa: S608
    return fingerprint
