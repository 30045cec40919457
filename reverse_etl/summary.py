"""Rows per layer: what `cdp demo` and `cdp summary` print after a build."""

from __future__ import annotations

from dataclasses import dataclass

from reverse_etl.project import Target, connect

LAYERS = ["raw", "staging", "intermediate", "identity", "marts", "segments", "activation", "cdp_sync"]


@dataclass(frozen=True)
class RelationCount:
    schema: str
    name: str
    rows: int


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def layer_counts(target: Target) -> list[RelationCount]:
    """Every table and view in the CDP's schemas with its row count, in layer order."""
    connection = connect(target)
    try:
        cursor = connection.cursor()
        cursor.execute("select table_schema, table_name from information_schema.tables")
        relations = sorted((str(schema), str(name)) for schema, name in cursor.fetchall() if schema in LAYERS)
        counts = []
        for schema, name in relations:
            cursor.execute(f"select count(*) from {quote(schema)}.{quote(name)}")  # noqa: S608 - quoted catalog names
            row = cursor.fetchone()
            counts.append(RelationCount(schema, name, int(row[0]) if row else 0))
        return sorted(counts, key=lambda count: (LAYERS.index(count.schema), count.name))
    finally:
        connection.close()


def render(counts: list[RelationCount]) -> str:
    lines = []
    for layer in LAYERS:
        members = [count for count in counts if count.schema == layer]
        if not members:
            continue
        lines.append(f"{layer} ({len(members)} relations, {sum(count.rows for count in members):,} rows)")
        lines += [f"  {count.name:<42} {count.rows:>12,}" for count in members]
    return "\n".join(lines)
