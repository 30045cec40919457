"""The fields a rule may name, with their kind and operators as the segment macros define them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reverse_etl.audiences.definitions import load_project


def available_fields(root: Path) -> dict[str, Any]:
    """Columns of customer_traits and customers (type, kind, operators), consent channels and segments."""
    project = load_project(root)
    macros = project.macros
    columns = []
    for name, data_type in sorted(project.fields.items()):
        kind = str(macros.call("segment_field_kind", data_type))
        columns.append(
            {
                "name": name,
                "data_type": data_type,
                "kind": kind,
                "operators": list(macros.call("segment_operators", kind)),
            }
        )
    return {"fields": columns, "channels": project.channels, "segments": sorted(project.segments)}
