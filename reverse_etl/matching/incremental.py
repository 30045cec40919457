"""Incremental scoring. matching.scored_records keeps the content hash of every record the last run scored and
the scoring version it ran with (the model file's version, the blocking rules and the lowest probability
kept). A run with the same scoring version scores only the new and changed records against all the records
(themselves included), in the same blocks; the links of the unchanged records stay as they are and the
links of changed and removed records are replaced. Match probabilities depend only on the pair and the model,
so the result is the links a full run would write. Anything else (no state, another model or rules, `--full`,
training) is a full run."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from reverse_etl.matching import links as link_table
from reverse_etl.matching.config import MatchingConfig
from reverse_etl.warehouse import Warehouse, quote

STATE = "scored_records"


@dataclass
class Delta:
    """What changed since the last run: records to score (new or changed) and records whose links go."""

    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    @property
    def replaced(self) -> set[str]:
        return self.changed | self.removed


def scoring_version(config: MatchingConfig, model_version: str) -> str:
    """What a link's score depends on besides its two records; a change means a full run."""
    basis = json.dumps([model_version, config.blocking_rules, link_table.kept_from(config)])
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def content_hashes(config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each record of `memory`'s records table with the hash of its normalized matching columns."""
    fields = ", ".join(f"{quote(name)} := {quote(name)}" for name in config.columns)
    rows = memory.sql(f"select unique_id, md5(cast(to_json(struct_pack({fields})) as varchar)) from records")  # noqa: S608
    return {str(unique_id): str(digest) for unique_id, digest in rows.fetchall()}


def delta(warehouse: Warehouse, version: str, current: dict[str, str]) -> Delta | None:
    """The records to score since the last run with scoring `version`; None when a full run is needed."""
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    known = {name.lower() for name in warehouse.columns(link_table.SCHEMA, STATE)}
    if not known or not warehouse.columns(link_table.SCHEMA, link_table.TABLE):
        return None
    versions = warehouse.query(f"select distinct scoring_version from {table}")  # noqa: S608
    if versions != [(version,)]:
        return None
    previous = {
        f"{source_table}|{record_id}": digest
        for source_table, record_id, digest in warehouse.query(
            f"select source_table, record_id, content_hash from {table}"  # noqa: S608
        )
    }
    return Delta(
        changed={unique_id for unique_id, digest in current.items() if previous.get(unique_id) != digest},
        removed=set(previous) - set(current),
    )


def score_changed(
    config: MatchingConfig, model: dict[str, Any], memory: duckdb.DuckDBPyConnection, changed: set[str]
) -> list[link_table.ScoredLink]:
    """The pairs with at least one changed record: the changed records linked against all the records (one
    Splink link-only run under the model's blocking rules), without a record's pair with itself and with
    each pair of two changed records once."""
    from splink import DuckDBAPI, Linker

    if not changed:
        return []
    memory.register("changed_ids", pa.table({"unique_id": pa.array(sorted(changed), type=pa.string())}))
    try:
        memory.execute(
            "create or replace table changed_records as "
            "select * from records where unique_id in (select unique_id from changed_ids)"
        )
    finally:
        memory.unregister("changed_ids")
    api = DuckDBAPI(connection=memory)
    across = copy.deepcopy(model)
    across["link_type"] = "link_only"
    linker = Linker([api.register("changed_records"), api.register("records")], across)
    scored = {
        link_table.pair(link): link
        for link in link_table.predict(linker, config, model)
        if (link.source_table_l, link.record_id_l) != (link.source_table_r, link.record_id_r)
    }
    memory.execute("drop table changed_records")
    return sorted(scored.values(), key=link_table.pair)


def save(
    warehouse: Warehouse, version: str, current: dict[str, str], replaced: set[str] | None = None
) -> None:
    """Record the scored records' hashes: all of them (`replaced` None), or only the replaced ones."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    names = ["source_table", "record_id", "content_hash", "scoring_version"]
    if replaced is None:
        warehouse.execute(f"drop table if exists {table}")
        warehouse.execute(f"create table {table} ({', '.join(f'{name} {text}' for name in names)})")
        written = sorted(current)
    else:
        if replaced:
            warehouse.execute(
                f"delete from {table} where source_table || '|' || record_id in "  # noqa: S608
                f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as replaced)",
                [sorted(replaced)],
            )
        written = sorted(replaced & set(current))
    if written:
        split = [unique_id.partition("|") for unique_id in written]
        warehouse.execute(
            f"insert into {table} select * from {warehouse.rows_subquery(names)} as batch",  # noqa: S608
            [
                [table_name for table_name, _, _ in split],
                [record_id for _, _, record_id in split],
                [current[unique_id] for unique_id in written],
                [version] * len(written),
            ],
        )


def drop(warehouse: Warehouse) -> None:
    warehouse.execute(f"drop table if exists {quote(link_table.SCHEMA)}.{quote(STATE)}")
