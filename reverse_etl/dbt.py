"""Run dbt in-process with its programmatic runner (one process, no CLI start-up per call)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reverse_etl.errors import DbtError
from reverse_etl.project import project_dir


@dataclass
class DbtResult:
    success: bool
    results: list[Any]
    failures: list[str]


def _summarize(exception: BaseException) -> str:
    """dbt's message without its macro call trace: what failed and why, on one line."""
    lines = [line.strip() for line in str(exception).splitlines()]
    kept = [line for line in lines if line and not line.startswith(">")]
    return " ".join(kept) or repr(exception)


def run_dbt(
    args: list[str], target: str | None = None, root: Path | None = None, raise_on_failure: bool = True
) -> DbtResult:
    """Invoke `dbt <args>` against the project; failures raise DbtError naming the failing nodes."""
    from dbt.cli.main import dbtRunner

    root = root or project_dir()
    full_args = [*args, "--project-dir", str(root), "--profiles-dir", str(root)]
    if target:
        full_args += ["--target", target]
    outcome = dbtRunner().invoke(full_args)
    results = list(getattr(outcome.result, "results", None) or [])
    failures = [
        f"{result.node.unique_id}: {str(result.status)}" + (f" ({result.message})" if result.message else "")
        for result in results
        if str(result.status) in {"error", "fail", "runtime error"}
    ]
    if outcome.exception is not None and not failures:
        failures.append(_summarize(outcome.exception))
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
