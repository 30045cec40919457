"""Run dbt in-process with its programmatic runner (one process, no CLI start-up per call)."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reverse_etl.errors import ConfigError, DbtError
from reverse_etl.parse_cache import kept_per_warehouse, warehouse_key
from reverse_etl.project import env_switch, project_dir, target_dir

# dbt's programmatic runner keeps global state (flags, adapters): one invocation at a time per process (the
# scheduler's build and a segment build started from the app wait for each other).
_INVOKING = threading.Lock()


@dataclass
class DbtResult:
    success: bool
    results: list[Any]
    failures: list[str]


def _node_name(result: Any) -> str:
    node = getattr(result, "node", None)
    return node.unique_id if node is not None else getattr(result, "unique_id", None) or "operation"


def _one_line(message: str) -> str:
    return " ".join(
        line.strip()
        for line in str(message).splitlines()
        if line.strip() and not line.strip().startswith(">")
    )


def _summarize(exception: BaseException) -> str:
    """dbt's message without its macro call trace: what failed and why, on one line."""
    lines = [line.strip() for line in str(exception).splitlines()]
    kept = [line for line in lines if line and not line.startswith(">")]
    return " ".join(kept) or repr(exception)


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open in a class attribute after a run, so a long-lived process that ran
    dbt (the scheduler of `cdp serve`) would hold DuckDB's file lock for good and keep BI tools and other cdp
    commands out. Dropped after every invocation; the next one opens the file again."""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is not None:
        connections.DuckDBConnectionManager.close_all_connections()


def _warehouse(target: str | None, root: Path) -> str:
    """The target's printable description (no password), or "" when the profile does not load (dbt names
    the problem itself). Starts the Spark session first for a spark target: dbt-spark's session method
    reuses the process's session, which cdp starts with the project's settings."""
    from reverse_etl.project import load_target

    try:
        loaded = load_target(target, root=root)
    except ConfigError:
        return ""
    if loaded.type == "spark":
        from reverse_etl.spark import spark_session

        spark_session(root)
    return f"{loaded.name} {loaded.describe()}"


def production_build_args() -> list[str]:
    """`dbt build` as `cdp build` and the scheduler run it: seeds, models, snapshots and data tests, without
    the unit tests unless CDP_BUILD_UNIT_TESTS=true. A unit test reads only the rows of its own fixtures, never
    the warehouse's, so a day's data cannot change its outcome: it runs where the code changes (`make test`,
    `cdp demo`, `cdp dbt build`). dbt's own DBT_EXCLUDE_RESOURCE_TYPES, when set, is left to decide."""
    args = ["build", "--quiet"]
    if not env_switch("CDP_BUILD_UNIT_TESTS", default=False) and not os.environ.get(
        "DBT_EXCLUDE_RESOURCE_TYPES"
    ):
        args += ["--exclude-resource-type", "unit_test"]
    return args


def run_dbt(
    args: list[str], target: str | None = None, root: Path | None = None, raise_on_failure: bool = True
) -> DbtResult:
    """Invoke `dbt <args>` against the project; failures raise DbtError naming the failing nodes."""
    from dbt.cli.main import dbtRunner

    root = root or project_dir()
    warehouse = _warehouse(target, root)
    full_args = [*args, "--project-dir", str(root), "--profiles-dir", str(root)]
    if target:
        full_args += ["--target", target]
    logged_errors: list[str] = []

    def keep_errors(event: Any) -> None:
        if event.info.level == "error" and event.info.msg:
            logged_errors.append(_one_line(event.info.msg))

    with _INVOKING, kept_per_warehouse(target_dir(root), warehouse_key(warehouse, args)):
        try:
            outcome = dbtRunner(callbacks=[keep_errors]).invoke(full_args)
        finally:
            _release_duckdb()
    results = list(getattr(outcome.result, "results", None) or [])
    failures = [
        f"{_node_name(result)}: {result.status}"
        + (f" ({_one_line(result.message)})" if result.message else "")
        for result in results
        if str(result.status) in {"error", "fail", "runtime error"}
        and (result.message or outcome.exception is None)
    ]
    if outcome.exception is not None:
        failures.append(_summarize(outcome.exception))
    if not outcome.success and not any(result.message for result in results) and outcome.exception is None:
        # Operations report their error only as a log event.
        failures = [error for error in logged_errors if error] or failures
    if not outcome.success and not failures:
        failures.append(f"dbt {' '.join(args)} failed; see logs/dbt.log")
    result = DbtResult(success=outcome.success, results=results, failures=failures)
    if raise_on_failure and not outcome.success:
        raise DbtError(
            f"dbt {args[0]} failed: "
            + "; ".join(failures[:5])
            + (f" (+{len(failures) - 5} more)" if len(failures) > 5 else "")
        )
    return result
