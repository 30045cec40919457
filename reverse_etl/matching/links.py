"""Scoring and the links table. `score` runs the trained model over the configured blocks of the records
table; `write_links` replaces the warehouse table matching.record_links in one transaction:

    source_table_l, record_id_l, source_table_r, record_id_r   the record pair (l < r)
    match_probability, match_weight                             the model's score
    fired_levels                                                the comparison level of every column, '; '-joined
    model_version                                               the model file's content hash
    scored_at                                                   when this run scored it

Pairs are kept from a probability of 0.5 (or the threshold, when lower) up; the threshold in vars.cdp_matching
says which of them are strong enough to link two records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from reverse_etl.matching.config import MatchingConfig
from reverse_etl.matching.model import level_labels
from reverse_etl.warehouse import Warehouse, quote, utc_now

SCHEMA, TABLE = "matching", "record_links"
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


def write_links(warehouse: Warehouse, links: list[ScoredLink], model_version: str) -> None:
    """Replace matching.record_links with `links`, in one transaction: readers see the old or the new set."""
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
