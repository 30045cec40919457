"""The in-process Spark session of the `spark` target (dbt-spark's session method) and its settings.

dbt-spark's session method calls SparkSession.builder.getOrCreate(): cdp creates the session first, with the
CDP_SPARK_* settings below, so dbt (run in-process) and the demo loader share it. Tables live in a Hive
warehouse folder with an embedded Derby metastore beside it, so they persist across processes; a cluster is
one environment variable away (CDP_SPARK_MASTER=spark://host:7077)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reverse_etl.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    from reverse_etl.project import Target


@dataclass(frozen=True)
class SparkSettings:
    master: str
    shuffle_partitions: int
    warehouse_dir: Path
    driver_memory: str
    codegen: bool = True
    adaptive: bool = True
    catalog: str = "hive"
    java_options: str = ""

    @property
    def metastore_dir(self) -> Path:
        return self.warehouse_dir / "metastore_db"


def spark_settings(root: Path | None = None) -> SparkSettings:
    """Settings from CDP_SPARK_* with small-machine defaults; a relative warehouse folder is under `root`."""
    from reverse_etl.project import env_switch, project_dir

    partitions = os.environ.get("CDP_SPARK_SHUFFLE_PARTITIONS", "4")
    if not partitions.isdigit() or int(partitions) < 1:
        raise ConfigError(f"CDP_SPARK_SHUFFLE_PARTITIONS must be a positive whole number, got {partitions!r}")
    warehouse = Path(os.environ.get("CDP_SPARK_WAREHOUSE_DIR", "spark-warehouse"))
    if not warehouse.is_absolute():
        warehouse = (root or project_dir()) / warehouse
    return SparkSettings(
        master=os.environ.get("CDP_SPARK_MASTER", "local[2]"),
        shuffle_partitions=int(partitions),
        warehouse_dir=warehouse.resolve(),
        driver_memory=os.environ.get("CDP_SPARK_DRIVER_MEMORY", "1g"),
        codegen=env_switch("CDP_SPARK_CODEGEN", default=True),
        adaptive=env_switch("CDP_SPARK_ADAPTIVE", default=True),
        catalog=_catalog(),
        java_options=os.environ.get("CDP_SPARK_DRIVER_JAVA_OPTIONS", "").strip(),
    )


CATALOGS = ("hive", "in-memory")


def _catalog() -> str:
    value = os.environ.get("CDP_SPARK_CATALOG", "").strip().lower() or "hive"
    if value not in CATALOGS:
        raise ConfigError(f"CDP_SPARK_CATALOG must be one of {', '.join(CATALOGS)}, got {value!r}")
    return value


# The sync state of the spark target (docs/syncs.md, "Syncs from a Spark model").
STATE_TARGET_VARIABLE = "CDP_SPARK_STATE_TARGET"
STATE_FILE = "cdp_sync_state.duckdb"


def state_store_target(root: Path | None = None) -> Target:
    """Where syncs from Spark models keep their state: the profiles.yml output named by CDP_SPARK_STATE_TARGET
    (a duckdb or postgres output), by default a DuckDB file beside the Spark tables (STATE_FILE in the
    warehouse folder)."""
    from reverse_etl.project import Target, load_target

    name = os.environ.get(STATE_TARGET_VARIABLE, "").strip()
    if not name:
        folder = spark_settings(root).warehouse_dir
        folder.mkdir(parents=True, exist_ok=True)
        return Target(name="spark_state", type="duckdb", path=str(folder / STATE_FILE))
    target = load_target(name, root)
    if target.type not in ("duckdb", "postgres"):
        raise ConfigError(
            f"{STATE_TARGET_VARIABLE}: '{name}' is a {target.type} output; the sync state needs a transactional "
            "store: name a duckdb or postgres output of profiles.yml"
        )
    return target


_SESSION: Any = None
_SESSION_SETTINGS: SparkSettings | None = None


def spark_session(root: Path | None = None) -> Any:
    """The process's Spark session, created with the current settings. A session already open with other
    settings (another warehouse folder, for example) is stopped first: one JVM holds one Derby metastore."""
    global _SESSION, _SESSION_SETTINGS
    settings = spark_settings(root)
    if _SESSION is not None and _SESSION_SETTINGS == settings:
        return _SESSION
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise WarehouseError("the spark target needs Java 17 (apt-get install openjdk-17-jre-headless)")
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:  # pragma: no cover - pyspark is a dependency
        raise WarehouseError(f"the spark target needs pyspark: {error}") from error
    stop_spark_session()
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    # Derby writes derby.log into derby.system.home; the metastore lives beside the tables it describes.
    # Extra driver JVM options (CDP_SPARK_DRIVER_JAVA_OPTIONS) apply when this process starts its JVM.
    java_options = f"-Dderby.system.home={settings.warehouse_dir} {settings.java_options}".strip()
    builder = (
        SparkSession.builder.master(settings.master)
        .appName("cdp")
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.default.parallelism", str(settings.shuffle_partitions))
        .config("spark.sql.warehouse.dir", str(settings.warehouse_dir))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={settings.metastore_dir};create=true",
        )
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Adaptive execution merges the small partitions a shuffle leaves and turns joins with a small side
        # into broadcasts at run time; on tiny data (tests) planning each stage again costs more than it saves.
        .config("spark.sql.adaptive.enabled", str(settings.adaptive).lower())
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        # Whole-stage code generation compiles each query's stages to Java (Janino) before running them: the
        # compile costs more than it saves when each statement reads a few hundred rows (tests).
        .config("spark.sql.codegen.wholeStage", str(settings.codegen).lower())
        # The project's plans are wide (unions of every identity source, many filters): inferring constraints
        # across them costs more optimizer time than the filters it adds save.
        .config("spark.sql.constraintPropagation.enabled", "false")
        # Runtime bloom filters: to place one the optimizer follows every join key's lineage down the plan, which
        # on the identity models' plans cost more driver time than the filters save (docs/scale_out.md).
        .config("spark.sql.optimizer.runtime.bloomFilter.enabled", "false")
        # Tasks start on any free core at once instead of waiting for a data-local one.
        .config("spark.locality.wait", "0s")
        # Tables are rewritten in place by the project's incremental strategy (docs/scale_out.md).
        .config("spark.sql.legacy.allowNonEmptyLocationInCTAS", "true")
    )
    # The Hive catalog keeps table definitions in the Derby metastore beside the tables, so another process
    # finds them; Spark's in-memory catalog keeps them in this session only (tests that build and read in one
    # process), without the metastore's calls.
    builder = (
        builder.enableHiveSupport()
        if settings.catalog == "hive"
        else builder.config("spark.sql.catalogImplementation", "in-memory")
    )
    try:
        session = builder.getOrCreate()
    except Exception as error:  # noqa: BLE001 - the JVM's start-up errors come in many classes
        raise WarehouseError(f"cannot start Spark ({settings.master}): {error}") from error
    session.sparkContext.setLogLevel("ERROR")
    from reverse_etl.spark_statements import install_binding_escaping, install_statement_splitting

    install_statement_splitting()
    install_binding_escaping()
    _SESSION, _SESSION_SETTINGS = session, settings
    return session


def stop_spark_session() -> None:
    """Stop the process's Spark session, if any (tests that switch warehouse folders)."""
    global _SESSION, _SESSION_SETTINGS
    if _SESSION is not None:
        _SESSION.stop()
    _SESSION, _SESSION_SETTINGS = None, None


class SparkCursor:
    """The small DB-API cursor the project's readers use (execute, fetchall, fetchone, description) over
    spark.sql; parameters bind to `?` markers. Plain Spark tables have no transactions: commit does nothing."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._rows: list[tuple[Any, ...]] = []
        self.description: list[tuple[str, ...]] | None = None

    def execute(self, sql: str, params: Any = None) -> SparkCursor:
        frame = self._session.sql(sql, args=list(params)) if params else self._session.sql(sql)
        self.description = [(name,) for name in frame.columns]
        self._rows = [tuple(row) for row in frame.collect()]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def close(self) -> None:
        self._rows = []


class SparkConnection:
    def __init__(self, session: Any) -> None:
        self._session = session

    def cursor(self) -> SparkCursor:
        return SparkCursor(self._session)

    def execute(self, sql: str, params: Any = None) -> SparkCursor:
        return self.cursor().execute(sql, params)

    def commit(self) -> None:
        """Nothing to commit: every Spark statement stands on its own."""

    def rollback(self) -> None:
        """Nothing to roll back (see commit)."""

    def close(self) -> None:
        """The session outlives its connections; stop_spark_session ends it."""


def spark_connection() -> SparkConnection:
    return SparkConnection(spark_session())


class SparkStatements:
    """Statements on the project's Spark session (`session`) whose failures come back as a WarehouseError
    naming the target (`target`): the base of the classes that run Spark SQL for syncs and matching."""

    session: Any
    target: Target

    def _sql(self, statement: str, params: list[Any] | None = None) -> Any:
        """A Spark statement (DDL runs now; a query is read by the caller), or a WarehouseError naming it."""
        try:
            return self.session.sql(statement, args=params) if params else self.session.sql(statement)
        except Exception as error:  # noqa: BLE001 - Spark's analysis and execution errors come in many classes
            raise self._failure(error) from error

    def _rows(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Every row of a Spark query, collected to the driver."""
        try:
            return [tuple(row) for row in self._sql(statement, params).collect()]
        except WarehouseError:
            raise
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error

    def _failure(self, error: Exception) -> WarehouseError:
        text = str(error).strip()
        return WarehouseError(
            f"{self.target.describe()}: {text.splitlines()[0] if text else type(error).__name__}"
        )
