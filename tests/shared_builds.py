"""What the test processes of one `make test` run share, so that a warehouse is built once, not once per
process: a folder (the built DuckDB file) and the name of a PostgreSQL database (the built demo, copied as a
template). The controlling process names both before its workers start and removes both at the end; the
first worker that needs a build makes it, under a file lock, and every worker then takes a copy of its own.
A run in one process (no pytest-xdist) shares nothing: each fixture builds as before."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from filelock import FileLock

FOLDER_VARIABLE = "CDP_TEST_SHARED_DIR"
DATABASE_VARIABLE = "CDP_TEST_SHARED_PG"


def name_shared_resources(config: pytest.Config) -> None:
    """In the controlling process of a run with workers: name what they will share. Workers inherit the
    environment, so they learn the names when they start."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "numprocesses", None):
        return
    os.environ[FOLDER_VARIABLE] = tempfile.mkdtemp(prefix="cdp-test-shared-")
    os.environ[DATABASE_VARIABLE] = f"cdp_shared_{uuid.uuid4().hex[:10]}"


def remove_shared_resources(drop_database: Callable[[str], None]) -> None:
    """In the controlling process, once every worker has finished."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    folder = os.environ.pop(FOLDER_VARIABLE, None)
    database = os.environ.pop(DATABASE_VARIABLE, None)
    if folder is None:
        return
    if database is not None and (Path(folder) / "postgres.lock").exists():
        drop_database(database)
    shutil.rmtree(folder, ignore_errors=True)


def shared_folder() -> Path | None:
    folder = os.environ.get(FOLDER_VARIABLE)
    return Path(folder) if folder else None


def shared_postgres_database() -> str | None:
    return os.environ.get(DATABASE_VARIABLE) if shared_folder() else None


@contextmanager
def built_once(name: str, build: Callable[[], None]) -> Iterator[None]:
    """Run `build` unless a worker already did, holding the run-wide lock named `name` for the block too (so
    a copy is taken while nobody writes)."""
    folder = shared_folder()
    assert folder is not None, "built_once is only for runs with workers"
    with FileLock(str(folder / f"{name}.lock")):
        done = folder / f"{name}.done"
        if not done.exists():
            build()
            done.touch()
        yield


DBT_OUTPUTS = ("manifest.json", "run_results.json")


def keep_dbt_outputs(name: str, target: Path) -> None:
    """Beside a shared build: the manifest and run results its build left in the builder's target folder."""
    kept = _kept_outputs(name)
    kept.mkdir(exist_ok=True)
    for output in DBT_OUTPUTS:
        shutil.copyfile(target / output, kept / output)


def take_dbt_outputs(name: str, target: Path) -> None:
    """Into this process's target folder: what the shared build's builder kept."""
    target.mkdir(parents=True, exist_ok=True)
    for output in DBT_OUTPUTS:
        shutil.copyfile(_kept_outputs(name) / output, target / output)


def _kept_outputs(name: str) -> Path:
    folder = shared_folder()
    assert folder is not None, "dbt outputs are kept only in runs with workers"
    return folder / f"{name}-dbt"
