"""Shared fixtures: per-test-session warehouses (a DuckDB file and a fresh PostgreSQL database)
loaded with small generated demo data and built with dbt in-process."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shared_builds import (
    built_once,
    keep_dbt_outputs,
    name_shared_resources,
    remove_shared_resources,
    shared_folder,
    shared_postgres_database,
    take_dbt_outputs,
)

from reverse_etl.project import Target, connect, load_target, target_dir

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEMO_PEOPLE = 400
DEMO_SEED = 7

# Under pytest-xdist (`make test` runs two workers) each worker gives dbt a target and a log folder of its
# own, relative to whichever project root dbt runs in: partial parsing, manifests and run results are never
# shared between processes. Warehouses are already per worker (temporary folders, uniquely named databases).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER:
    os.environ["DBT_TARGET_PATH"] = f"target/pytest-{WORKER}"
    os.environ["DBT_LOG_PATH"] = f"logs/pytest-{WORKER}"


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


def _admin_execute(statement: str) -> None:
    connection = connect(_pg_admin_target())
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def create_pg_database(name: str, template: str | None = None) -> None:
    """A new database (a copy of the database template, when given)."""
    _admin_execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))


def drop_pg_database(name: str) -> None:
    _admin_execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session, dropped at the end."""
    _require_postgres()
    name = f"cdp_test_{uuid.uuid4().hex[:10]}"
    create_pg_database(name)
    try:
        yield name
    finally:
        drop_pg_database(name)


def make_pg_database(prefix: str = "cdp_test", template: str | None = None) -> tuple[str, Callable[[], None]]:
    """Create a throwaway database (a copy of the database template, when given); returns (name, drop
    function). For tests that need their own."""
    _require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    create_pg_database(name, template)
    return name, lambda: drop_pg_database(name)


def pytest_configure(config: pytest.Config) -> None:
    name_shared_resources(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    def drop_if_reachable(name: str) -> None:
        try:
            drop_pg_database(name)
        except Exception:  # noqa: BLE001 - no server: nothing was created on it
            pass

    remove_shared_resources(drop_if_reachable)


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


class Warehouse:
    """A warehouse under test: its profile environment, a DB-API connection and in-process dbt."""

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.kind = kind
        self.env = {"CDP_TARGET": kind, **env}
        with environment(self.env):
            self.target = load_target(kind, root=ROOT)

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        connection = connect(self.target)
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params) if params else cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            connection.close()

    def execute(self, sql: str, params: tuple | list = ()) -> None:
        connection = connect(self.target)
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params) if params else cursor.execute(sql)
            connection.commit()
        finally:
            connection.close()

    def scalar(self, sql: str, params: tuple | list = ()):
        return self.query(sql, params)[0][0]

    def dbt(self, *args: str, raise_on_failure: bool = True):
        from reverse_etl.dbt import run_dbt

        with environment(self.env):
            return run_dbt(list(args), target=self.kind, root=ROOT, raise_on_failure=raise_on_failure)

    def generate(self, people: int = DEMO_PEOPLE, seed: int = DEMO_SEED):
        from reverse_etl.generator import generate

        return generate(self.target, people=people, seed=seed)


class environment:
    """Set environment variables for a block, then restore them."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def new_duckdb_warehouse(folder: Path) -> Warehouse:
    return Warehouse("duckdb", {"CDP_DUCKDB_PATH": str(folder / "cdp.duckdb")})


def new_postgres_warehouse(dbname: str) -> Warehouse:
    return Warehouse("postgres", {"CDP_PG_DBNAME": dbname})


@pytest.fixture(scope="session")
def generated_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Session DuckDB file with the demo data generated (DEMO_PEOPLE, DEMO_SEED). Treat as read-only."""
    warehouse = new_duckdb_warehouse(tmp_path_factory.mktemp("duckdb"))
    warehouse.generate()
    return warehouse


@pytest.fixture(scope="session")
def generated_postgres(postgres_database: str) -> Warehouse:
    """Session PostgreSQL database with the same demo data. Treat as read-only."""
    warehouse = new_postgres_warehouse(postgres_database)
    warehouse.generate()
    return warehouse


# A test's own build of a warehouse whose data it changed: every seed and model, and the data tests from the
# identity layer on (unique ids and records, the marts' and activation models' keys), which guard what the
# changed rows flow into. Not the unit tests, which read only their own fixtures, never the warehouse's rows;
# not the data tests of the seeds (the project's lookup files) and of the staging views (column formats of
# the raw rows, which a test's few added rows follow by construction). The demo build (built_duckdb,
# built_postgres) runs every one of them on each engine.
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
NO_UPSTREAM_TESTS = (
    *NO_UNIT_TESTS,
    "--exclude",
    "resource_type:test,path:models/staging",
    "resource_type:test,path:seeds",
)
REBUILD = ("build", *NO_UPSTREAM_TESTS)
# For a `cdp` command run in a process of its own by a test about what happens after its build: dbt's own
# setting, which the command's `dbt build` reads, for its seeds and models only.
MODELS_ONLY_ENV = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test test"}


def _build_demo(warehouse: Warehouse) -> Warehouse:
    warehouse.generate()
    warehouse.dbt("build")
    return warehouse


@pytest.fixture(scope="session")
def built_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The demo data with the whole dbt project built on it (models, unit tests and data tests): a DuckDB
    file of this process's own. Under `make test` it is a copy of one build shared by both processes."""
    folder = tmp_path_factory.mktemp("duckdb_built")
    shared = shared_folder()
    if shared is None:
        return _build_demo(new_duckdb_warehouse(folder))
    source = new_duckdb_warehouse(shared / "duckdb")
    built_here = []

    def build() -> None:
        (shared / "duckdb").mkdir()
        _build_demo(source)
        keep_dbt_outputs("duckdb", target_dir(ROOT))
        built_here.append(True)

    with built_once("duckdb", build):
        copy = copy_of_built_duckdb(source, folder)
    return copy if built_here else _with_dbt_outputs("duckdb", copy)


def _with_dbt_outputs(name: str, warehouse: Warehouse) -> Warehouse:
    """A process that took a copy of another's build gets that build's manifest and run results too, as if
    it had built: tests that read the project's syncs (target/manifest.json) or the last build's invocation
    must not depend on which process built."""
    take_dbt_outputs(name, target_dir(ROOT))
    return warehouse


def copy_of_built_duckdb(built_duckdb: Warehouse, folder: Path) -> Warehouse:
    """A DuckDB warehouse of its own holding what built_duckdb holds (a file copy, not another build), for
    modules that write to their warehouse (sync state, BI copies)."""
    shutil.copy(built_duckdb.target.path, folder / "cdp.duckdb")
    return new_duckdb_warehouse(folder)


@pytest.fixture(scope="session")
def built_postgres(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """The same on PostgreSQL: a database of this process's own. Under `make test` it is a copy (CREATE
    DATABASE ... TEMPLATE) of one build shared by both processes."""
    _require_postgres()
    shared = shared_postgres_database()
    if shared is None:
        yield _build_demo(request.getfixturevalue("generated_postgres"))
        return

    built_here = []

    def build() -> None:
        drop_pg_database(shared)  # what a failed attempt of another process left
        create_pg_database(shared)
        _build_demo(new_postgres_warehouse(shared))
        keep_dbt_outputs("postgres", target_dir(ROOT))
        built_here.append(True)

    with built_once("postgres", build):
        # Copied while holding the lock: nothing else may be connected to a template while it is copied.
        name, drop = make_pg_database("cdp_test", template=shared)
    copy = new_postgres_warehouse(name)
    try:
        yield copy if built_here else _with_dbt_outputs("postgres", copy)
    finally:
        drop()


@pytest.fixture(scope="session", params=WAREHOUSES)
def built_warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each warehouse in turn, built: tests using it run on DuckDB and on PostgreSQL."""
    return request.getfixturevalue(f"built_{request.param}")


@pytest.fixture(scope="session", params=WAREHOUSES)
def generated_warehouse(request: pytest.FixtureRequest) -> Warehouse:
    return request.getfixturevalue(f"generated_{request.param}")


def fresh_warehouse(kind: str, request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> Warehouse:
    """An empty warehouse of its own for one test: a DuckDB file, or a PostgreSQL database dropped afterwards."""
    if kind == "duckdb":
        return new_duckdb_warehouse(tmp_path)
    name, drop = make_pg_database(prefix)
    request.addfinalizer(drop)
    return new_postgres_warehouse(name)


# A test's own warehouses (private_warehouse, copy_of) take the first free of a few names fixed for the
# process (a DuckDB file in this process's temporary folder, a PostgreSQL database named after this process),
# freed when the test ends: dbt parses the whole project again for a warehouse other than its last parse's
# (the path or database name is part of the profile), and `run_dbt` keeps a parse per warehouse, so every
# test's warehouse after the first of its slot in a process starts from a kept parse instead of a full one.
_PROCESS = uuid.uuid4().hex[:10]
_TAKEN: set[tuple[str, int]] = set()


def _take_slot(kind: str, request: pytest.FixtureRequest, free: Callable[[], None]) -> int:
    """The smallest slot number of this kind no running test holds; `free` empties it when the test ends."""
    slot = next(number for number in itertools.count(1) if (kind, number) not in _TAKEN)
    _TAKEN.add((kind, slot))

    def release() -> None:
        try:
            free()
        finally:
            _TAKEN.discard((kind, slot))

    request.addfinalizer(release)
    return slot


def private_warehouse(
    kind: str, request: pytest.FixtureRequest, template: Warehouse | None = None
) -> Warehouse:
    """A warehouse of one test's own in a slot of this process (above), emptied when the test ends: empty, or
    holding the same tables as `template` (its DuckDB file copied; a PostgreSQL database made from it as a
    template, so nothing may be connected to it)."""
    if kind == "duckdb":
        base = request.getfixturevalue("tmp_path_factory").getbasetemp() / "own_warehouses"
        slot = _take_slot(kind, request, lambda: shutil.rmtree(base / f"slot{slot}", ignore_errors=True))
        folder = base / f"slot{slot}"
        # Nothing of an earlier holder's may stay, its write-ahead log above all.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if template is not None:
            template.execute("checkpoint")
            shutil.copy(template.env["CDP_DUCKDB_PATH"], folder / "cdp.duckdb")
        return new_duckdb_warehouse(folder)
    _require_postgres()
    slot = _take_slot(kind, request, lambda: drop_pg_database(name))
    name = f"cdp_own{slot}_{_PROCESS}"
    drop_pg_database(name)
    create_pg_database(name, template=template.env["CDP_PG_DBNAME"] if template is not None else None)
    return new_postgres_warehouse(name)


def copy_of(warehouse: Warehouse, request: pytest.FixtureRequest) -> Warehouse:
    """A warehouse of one test's own holding the same tables (private_warehouse)."""
    return private_warehouse(warehouse.kind, request, template=warehouse)


def copy_of_built(kind: str, request: pytest.FixtureRequest) -> Warehouse:
    """The built demo (built_duckdb or built_postgres) in a warehouse of one test's own, for a test that
    changes its data and builds again: a copy instead of a generate and a whole `dbt build` of its own."""
    return copy_of(request.getfixturevalue(f"built_{kind}"), request)


def require_java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        message = (
            "the Spark tests need Java 17 (apt-get install openjdk-17-jre-headless; .ci/run installs it)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def spark_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The module's Spark settings; the session is stopped at the end of the module. Settings for tiny data
    (docs/testing.md, "Spark"): no whole-stage code generation and no adaptive execution, which cost more
    planning and compiling per statement than a few hundred rows take to run; a module that builds and reads
    in this process only may name Spark's in-memory catalog (SPARK_CATALOG = "in-memory") instead of the
    Derby metastore; the driver JVM compiles with its quick compiler only."""
    require_java()
    folder = tmp_path_factory.mktemp("spark")
    values = {
        "CDP_SPARK_WAREHOUSE_DIR": str(folder / "warehouse"),
        "CDP_SPARK_MASTER": "local[2]",
        "CDP_SPARK_SHUFFLE_PARTITIONS": "2",
        "CDP_SPARK_CODEGEN": "false",
        "CDP_SPARK_ADAPTIVE": "false",
        "CDP_SPARK_CATALOG": getattr(request.module, "SPARK_CATALOG", "hive"),
        # The JVM's quick (C1) compiler only: a test's many short statements end before the optimizing
        # compiler's work pays off (docs/testing.md, "Spark").
        "CDP_SPARK_DRIVER_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1",
    }
    with environment(values):
        yield values
    from reverse_etl.spark import stop_spark_session

    stop_spark_session()


# The costliest test files, heaviest first (docs/testing.md, "The slowest tests"). Under `make test` the three
# processes take whole files from the front of one queue (`--dist loadfile --no-loadscope-reorder`): long
# files start early and short ones fill the end, so no process is left alone with a long file. The Spark
# project comparison, the longest file by far, goes first: one process spends the run on it while the
# other two take the rest.
HEAVIEST_FIRST = (
    "test_spark_project.py",
    "test_identity.py",
    "test_marts.py",
    "test_identity_equivalence.py",
    "test_source_families.py",
    "test_loader_schemas.py",
    "test_spark.py",
    "test_sync_spark.py",
    "test_matching_spark.py",
    "test_matching.py",
    "test_cli.py",
    "test_identity_suppression.py",
    "test_segments_scores.py",
    "test_build_schedules.py",
    "test_audiences.py",
    "test_identity_incremental.py",
    "test_publish.py",
    "test_identifier_blocklist.py",
    "test_sync_cli.py",
    "test_custom_sources.py",
    "test_semantic_layer.py",
    "test_identity_composite.py",
    "test_matching_incremental.py",
    "test_generator_offline.py",
    "test_matching_lock.py",
    "test_serve_http.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
