"""Shared fixtures: per-test-session warehouses (a DuckDB file and a fresh PostgreSQL database)
loaded with small generated demo data and built with dbt in-process."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reverse_etl.project import Target, connect, load_target

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEMO_PEOPLE = 400
DEMO_SEED = 7


def _pg_admin_target() -> Target:
    return Target(
        name="postgres",
        type="postgres",
        host=os.environ.get("CDP_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("CDP_PG_PORT", "5432")),
        user=os.environ.get("CDP_PG_USER", "postgres"),
        password=os.environ.get("CDP_PG_PASSWORD", ""),
        dbname="postgres",
    )


def _require_postgres() -> Target:
    """The admin connection, or a loud skip (a failure under CI=true, where PostgreSQL must be there)."""
    admin = _pg_admin_target()
    try:
        connection = connect(admin)
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means the same thing here
        message = f"PostgreSQL tests need a server at {admin.host}:{admin.port} (CDP_PG_*): {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    connection.close()
    return admin


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session, dropped at the end."""
    admin = _require_postgres()
    name = f"cdp_test_{uuid.uuid4().hex[:10]}"
    connection = connect(admin)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        connection.close()


def make_pg_database(prefix: str = "cdp_test") -> tuple[str, object]:
    """Create a throwaway database; returns (name, drop function). For tests that need their own."""
    admin = _require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = connect(admin)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'create database "{name}"')

    def drop() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        connection.close()

    return name, drop


@pytest.fixture
def use_target(monkeypatch: pytest.MonkeyPatch):
    """Point the profile at a warehouse for the duration of one test: use_target('duckdb', path=...)."""

    def _use(kind: str, path: str | None = None, dbname: str | None = None) -> Target:
        monkeypatch.setenv("CDP_TARGET", kind)
        if path:
            monkeypatch.setenv("CDP_DUCKDB_PATH", path)
        if dbname:
            monkeypatch.setenv("CDP_PG_DBNAME", dbname)
        return load_target(kind, root=ROOT)

    return _use


WAREHOUSES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
