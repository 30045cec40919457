"""The live size of a segment rule: one read-only query (the segment_preview_sql macro) counting its members,
those consented on each channel and those suppressed, run in a rolled-back read-only transaction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from reverse_etl.audiences.definitions import Project, load_project, render_rule
from reverse_etl.warehouse import Warehouse

PREVIEW_TIMEOUT_SECONDS = 10.0


def preview_sql(project: Project, name: str, definition: Any) -> str:
    """The checked preview query of a definition (saved or not), named `name` in errors."""
    where_sql = render_rule(project, name, definition)
    return str(project.macros.call("segment_preview_sql", where_sql, project.context(), project.channels))


def preview(
    warehouse: Warehouse, root: Path, definition: Any, name: str = "audience", project: Project | None = None
) -> dict[str, Any]:
    """Counts for a definition: customers, <channel>_consented per channel, suppressed; and the seconds taken."""
    project = project or load_project(root, warehouse.kind)
    statement = preview_sql(project, name, definition)
    started = time.monotonic()
    rows = [row for batch in warehouse.read_only_stream(statement, PREVIEW_TIMEOUT_SECONDS) for row in batch]
    seconds = time.monotonic() - started
    names = ["customers", *(f"{channel}_consented" for channel in project.channels), "suppressed"]
    counts = {column: int(value or 0) for column, value in zip(names, rows[0], strict=True)}
    return {"counts": counts, "seconds": round(seconds, 3)}
