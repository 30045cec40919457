"""Scoring and the links table. `score` runs the trained model over the configured blocks of the records
table (or, for an incremental run, the changed records against the others: reverse_etl.matching.incremental);
`write_links` writes the warehouse table matching.record_links:

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
VERSION_COLUMNS = ("fingerprint", "model_version", "written_at", "groups_digest")
DIGEST_MODULUS = 2**64


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

    return predict(Linker(DuckDBAPI(connection=memory).register("records"), model), memory, config, model)


def kept_from(config: MatchingConfig) -> float:
    """The lowest match probability a scored pair is kept with."""
    return min(KEPT_FROM, config.threshold)


def predict(
    linker: Any, memory: duckdb.DuckDBPyConnection, config: MatchingConfig, model: dict[str, Any]
) -> list[ScoredLink]:
    """The pairs `linker` (on `memory`) blocks and scores at least `kept_from`, each with its smaller record on
    the left."""
    predictions = linker.inference.predict(threshold_match_probability=kept_from(config))
    try:
        return scored_links(memory, predictions.physical_name, model)
    finally:
        predictions.drop_table_from_database_and_remove_from_cache()


def scored_links(memory: duckdb.DuckDBPyConnection, table: str, model: dict[str, Any]) -> list[ScoredLink]:
    """The pairs of Splink's predictions in `memory`'s table `table`, each once (a pair of two records both on
    each side of a link-only prediction comes twice, with the same score: the larger probability is kept, then
    the smaller fired levels), with its smaller record on the left, without a record's pair with itself, in
    pair order, with its fired levels. The ordering, the split of the ids and the labels are done in the query,
    so a run builds no Python string per pair and level and no object for a pair it drops."""
    fired, labels = fired_levels_sql(level_labels(model))
    smaller, larger = "least(unique_id_l, unique_id_r)", "greatest(unique_id_l, unique_id_r)"
    rows = memory.execute(
        "select * from (select split_part(smaller, '|', 1) as source_table_l, "  # noqa: S608 - quoted names, bound labels
        "substr(smaller, strpos(smaller, '|') + 1) as record_id_l, split_part(larger, '|', 1) as source_table_r, "
        "substr(larger, strpos(larger, '|') + 1) as record_id_r, match_probability, match_weight, fired_levels "
        f"from (select {smaller} as smaller, {larger} as larger, match_probability, match_weight, "
        f"{fired} as fired_levels from {quote(table)} where unique_id_l <> unique_id_r) as scored "
        "qualify row_number() over (partition by smaller, larger "
        "order by match_probability desc, fired_levels) = 1) as links "
        "order by source_table_l, record_id_l, source_table_r, record_id_r",
        labels,
    ).fetchall()
    return [ScoredLink(*row) for row in rows]  # text, text, text, text, double, double, text


def fired_levels_sql(labels: dict[str, dict[int, str]]) -> tuple[str, list[Any]]:
    """SQL for a pair's fired levels ('<column>: <label of its level>', '; '-joined; a level without a label by
    its number) over Splink's gamma columns, and the labels to bind, in order."""
    parts: list[str] = []
    params: list[Any] = []
    for name, named in labels.items():
        gamma = quote(f"gamma_{name}")
        cases = " ".join("when ? then ?" for _ in named)
        parts.append(f"? || (case {gamma} {cases} else cast({gamma} as varchar) end)")
        params.append(f"{name}: ")
        for level, label in named.items():
            params.extend([level, label])
    return " || '; ' || ".join(parts), params


def pair(link: ScoredLink) -> tuple[str, str, str, str]:
    return (link.source_table_l, link.record_id_l, link.source_table_r, link.record_id_r)


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


def write_links(
    warehouse: Warehouse,
    links: list[ScoredLink],
    model_version: str,
    threshold: float,
    replaced: set[str] | None = None,
    stale: set[str] | None = None,
) -> str:
    """Write `links` into matching.record_links, and matching.record_groups with the groups all its links form
    at `threshold` (what the identity graph reads). With `replaced` None the table is replaced; else only the
    links of the `replaced` records ('<source_table>|<record_id>') are deleted first and the others kept (of
    those in `stale` when given: the replaced records that had links; a record no run kept has none).
    The caller holds the transaction, so readers see the old or the new set. Returns the groups' fingerprint,
    also kept in matching.record_groups_version."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    number = "double" if warehouse.kind == "duckdb" else "double precision"
    stamp = "timestamp"
    table = f"{quote(SCHEMA)}.{quote(TABLE)}"
    columns = [*TEXT_COLUMNS[:4], *NUMBER_COLUMNS, *TEXT_COLUMNS[4:]]
    warehouse.execute(f"create schema if not exists {quote(SCHEMA)}")
    if replaced is None:
        warehouse.execute(f"drop table if exists {table}")
        definitions = [f"{quote(name)} {number if name in NUMBER_COLUMNS else text}" for name in columns]
        warehouse.execute(f"create table {table} ({', '.join(definitions)}, scored_at {stamp})")
    elif gone := sorted(replaced if stale is None else stale):
        ids = f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as replaced)"  # noqa: S608 - quoted names, bound values
        warehouse.execute(
            f"delete from {table} where source_table_l || '|' || record_id_l in {ids} "  # noqa: S608
            f"or source_table_r || '|' || record_id_r in {ids}",
            [gone, gone],
        )
    if links:
        # Column by column; the numbers as their shortest exact text (repr), cast back in the statement.
        values = {
            name: [
                repr(getattr(link, name)) if name in NUMBER_COLUMNS else str(getattr(link, name))
                for link in links
            ]
            for name in columns
            if name != "model_version"
        }
        values["model_version"] = [model_version] * len(links)
        casts = ", ".join(
            f"cast({quote(name)} as {number})" if name in NUMBER_COLUMNS else quote(name) for name in columns
        )
        warehouse.execute(
            f"insert into {table} select {casts}, ? from {warehouse.rows_subquery(columns)} as batch",  # noqa: S608
            [utc_now(), *[values[name] for name in columns]],
        )
    last = None if replaced is None else _last_digest(warehouse, model_version, threshold)
    if last is None:
        digest = _write_groups(warehouse, threshold)
    else:
        digest = _update_groups(warehouse, links, threshold, replaced or set(), last)
    return _groups_version(warehouse, model_version, threshold, digest)


def fingerprint(model_version: str, threshold: float, digest: int) -> str:
    return hashlib.sha256("\n".join([model_version, repr(threshold), str(digest)]).encode()).hexdigest()[:16]


def _strong_links(warehouse: Warehouse, threshold: float, among: set[str] | None = None) -> list[ScoredLink]:
    """The links at or above `threshold`: all of them, or those with a record `among` the given ones."""
    table = f"{quote(SCHEMA)}.{quote(TABLE)}"
    statement = (
        f"select source_table_l, record_id_l, source_table_r, record_id_r, match_probability, "  # noqa: S608
        f"match_weight from {table} where match_probability >= ?"
    )
    params: list[Any] = [threshold]
    if among is not None:
        ids = f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as among)"  # noqa: S608
        statement += f" and (source_table_l || '|' || record_id_l in {ids} or source_table_r || '|' || record_id_r in {ids})"
        params += [sorted(among), sorted(among)]
    return [
        ScoredLink(
            str(table_l), str(record_l), str(table_r), str(record_r), float(probability), float(weight), ""
        )
        for table_l, record_l, table_r, record_r, probability, weight in warehouse.query(statement, params)
    ]


def group_rows(groups: dict[tuple[str, str], str]) -> list[tuple[str, str, str]]:
    return sorted((source_table, record_id, group) for (source_table, record_id), group in groups.items())


def _insert_groups(warehouse: Warehouse, rows: list[tuple[str, str, str]]) -> None:
    if rows:
        warehouse.execute(
            f"insert into {quote(SCHEMA)}.{quote(GROUPS)} select * from "  # noqa: S608
            f"{warehouse.rows_subquery(['source_table', 'record_id', 'match_group'])} as batch",
            [list(column) for column in zip(*rows, strict=True)],
        )


def rows_digest(rows: list[tuple[str, str, str]]) -> int:
    """An order-free digest of group rows: the sum of each row's hash, modulo 2**64. A run that deletes and
    inserts some rows subtracts and adds theirs, so it never reads every group to fingerprint them."""
    total = 0
    for row in rows:
        total += int.from_bytes(hashlib.sha256("\t".join(row).encode()).digest()[:8], "big")
    return total % DIGEST_MODULUS


def _write_groups(warehouse: Warehouse, threshold: float) -> int:
    """matching.record_groups from every link at or above `threshold`; the rows' digest."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    table = f"{quote(SCHEMA)}.{quote(GROUPS)}"
    warehouse.execute(f"drop table if exists {table}")
    warehouse.execute(f"create table {table} (source_table {text}, record_id {text}, match_group {text})")
    rows = group_rows(match_groups(_strong_links(warehouse, threshold), threshold))
    _insert_groups(warehouse, rows)
    return rows_digest(rows)


def _update_groups(
    warehouse: Warehouse, new_links: list[ScoredLink], threshold: float, replaced: set[str], digest: int
) -> int:
    """Regroup only the records whose group can change: the replaced ones, both records of every new strong
    link, and every record of their old groups. Those groups were closed under the old links, and every new
    link has both records among them, so their links at or above `threshold` form the same groups a full
    regrouping would. The digest of all group rows: the last run's, less the rows deleted, plus those
    inserted (`digest`: the last run's)."""
    table = f"{quote(SCHEMA)}.{quote(GROUPS)}"
    touched = touched_records(new_links, threshold, replaced)
    if not touched:
        return digest
    ids = f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as touched)"  # noqa: S608
    # Every row deleted below is one of these: a touched record with a row has its group among them.
    members = [
        (str(source_table), str(record_id), str(group))
        for source_table, record_id, group in warehouse.query(
            f"select source_table, record_id, match_group from {table} where match_group in "  # noqa: S608
            f"(select match_group from {table} where source_table || '|' || record_id in {ids})",
            [sorted(touched)],
        )
    ]
    regrouped = touched | {f"{source_table}|{record_id}" for source_table, record_id, _ in members}
    rows = group_rows(match_groups(_strong_links(warehouse, threshold, regrouped), threshold))
    # Only the rows that differ are written: most regrouped records keep their group (a group is named by its
    # smallest record, and a new record rarely is one). A record has at most one row, old or new.
    deleted, inserted = changed_rows(members, rows)
    if deleted:
        warehouse.execute(
            f"delete from {table} where source_table || '|' || record_id in "  # noqa: S608
            f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as regrouped)",
            [sorted(f"{source_table}|{record_id}" for source_table, record_id, _ in deleted)],
        )
    _insert_groups(warehouse, inserted)
    return updated_digest(digest, deleted, inserted)


def changed_rows(
    old: list[tuple[str, str, str]], new: list[tuple[str, str, str]]
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The group rows (source_table, record_id, match_group) to delete and to insert to turn `old` into `new`,
    each list in row order."""
    kept = set(old) & set(new)
    return [row for row in old if row not in kept], [row for row in new if row not in kept]


def touched_records(new_links: list[ScoredLink], threshold: float, replaced: set[str]) -> set[str]:
    """The records ('<source_table>|<record_id>') whose group a run can change: the replaced ones and both
    records of every new link at or above `threshold` (their old groups' records too: see _update_groups)."""
    touched = set(replaced)
    for link in new_links:
        if link.match_probability >= threshold:
            touched |= {
                f"{link.source_table_l}|{link.record_id_l}",
                f"{link.source_table_r}|{link.record_id_r}",
            }
    return touched


def updated_digest(
    digest: int, deleted: list[tuple[str, str, str]], inserted: list[tuple[str, str, str]]
) -> int:
    """The digest of every group row after `deleted` rows left and `inserted` ones came (`digest`: before)."""
    return (digest - rows_digest(deleted) + rows_digest(inserted)) % DIGEST_MODULUS


def _last_digest(warehouse: Warehouse, model_version: str, threshold: float) -> int | None:
    """The digest of the group rows as the last run left them, when they were formed at `threshold` (their
    fingerprint says so); None when all groups must be formed again: another threshold (the groups of records
    no run touches would keep the old one), or a version table written before the digest was kept."""
    kept = warehouse.query(f"select * from {quote(SCHEMA)}.{quote(GROUPS_VERSION)}")  # noqa: S608
    return kept_digest(kept, model_version, threshold)


def kept_digest(kept: list[tuple[Any, ...]], model_version: str, threshold: float) -> int | None:
    """The digest of the version table's rows `kept` (see _last_digest), or None."""
    if not kept or len(kept[0]) != len(VERSION_COLUMNS) or kept[0][-1] is None:
        return None
    kept_fingerprint, _, _, digest = kept[0]
    if kept_fingerprint != fingerprint(model_version, threshold, int(digest)):
        return None
    return int(digest)


def _groups_version(warehouse: Warehouse, model_version: str, threshold: float, digest: int) -> str:
    """The groups' fingerprint (of the model version, the threshold and the digest of every group row),
    written to matching.record_groups_version with the digest."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    version = f"{quote(SCHEMA)}.{quote(GROUPS_VERSION)}"
    groups_fingerprint = fingerprint(model_version, threshold, digest)
    warehouse.execute(f"drop table if exists {version}")
    warehouse.execute(
        f"create table {version} (fingerprint {text}, model_version {text}, written_at timestamp, "
        f"groups_digest {text})"
    )
    warehouse.execute(
        f"insert into {version} values (?, ?, ?, ?)",  # noqa: S608
        (groups_fingerprint, model_version, utc_now(), str(digest)),
    )
    return groups_fingerprint
