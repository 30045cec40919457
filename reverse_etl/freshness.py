"""Source freshness before syncing: `dbt source freshness`, then which syncs read a stale source.

A source is stale when dbt reports it past its `error_after` threshold (or cannot compute its freshness). A
sync is held back when any source upstream of its model is stale, so a loader that stopped does not make the
syncs push yesterday's audiences as if they were today's; a source past `warn_after` only is reported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reverse_etl.dbt import run_dbt
from reverse_etl.errors import ConfigError
from reverse_etl.project import Target, target_dir


@dataclass(frozen=True)
class SourceFreshness:
    source: str  # source_name.table_name
    status: str  # pass, warn, error or runtime error
    detail: str

    @property
    def is_stale(self) -> bool:
        return self.status in {"error", "runtime error"}


def check_sources(target: Target, root: Path | None = None) -> dict[str, SourceFreshness]:
    """Run `dbt source freshness` on the enabled sources; returns each source's outcome by unique id."""
    result = run_dbt(
        ["source", "freshness", "--quiet"], target=target.name, root=root, raise_on_failure=False
    )
    outcomes: dict[str, SourceFreshness] = {}
    for node_result in result.results:
        node = getattr(node_result, "node", None)
        if node is None:
            continue
        status = str(node_result.status)
        age = getattr(node_result, "age", None)
        detail = (
            f"last loaded {age / 3600:.1f} hours ago"
            if isinstance(age, int | float)
            else str(node_result.message or status)
        )
        outcomes[node.unique_id] = SourceFreshness(f"{node.source_name}.{node.name}", status, detail)
    return outcomes


class FreshnessGate:
    """Which syncs must wait: those whose model reads a stale source (through target/manifest.json)."""

    def __init__(self, outcomes: dict[str, SourceFreshness], root: Path | None = None) -> None:
        manifest_path = target_dir(root) / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"{manifest_path}: cannot read the manifest ({error}); run dbt parse"
            ) from error
        self.outcomes = outcomes
        self.parents: dict[str, list[str]] = manifest.get("parent_map") or {}

    def upstream_sources(self, model: str) -> set[str]:
        """Unique ids of the sources a model reads, directly or through other models."""
        start = next(
            (node for node in self.parents if node.startswith("model.") and node.split(".")[-1] == model),
            None,
        )
        if start is None:
            raise ConfigError(f"target/manifest.json: no model named '{model}'")
        seen: set[str] = set()
        stack = [start]
        while stack:
            for parent in self.parents.get(stack.pop(), []):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return {node for node in seen if node.startswith("source.")}

    def reason(self, model: str) -> str | None:
        """Why a sync of `model` must wait (its stale upstream sources), or None when it may run."""
        upstream = self.upstream_sources(model)
        stale = sorted(
            f"{outcome.source} ({outcome.detail})"
            for unique_id, outcome in self.outcomes.items()
            if outcome.is_stale and unique_id in upstream
        )
        return "stale source " + ", ".join(stale) if stale else None
