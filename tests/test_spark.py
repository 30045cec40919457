"""The project on Apache Spark (the `spark` target, dbt-spark's session method with pyspark in-process): the
same demo data generated into DuckDB and into Spark, the seeds and the staging layer (models, unit tests and
data tests) built on both, and every staging model compared row by row (an order-independent multiset of
normalized rows). One Spark session for the module, in a warehouse folder of its own."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import IN_CI, Warehouse, environment, new_duckdb_warehouse
from reverse_etl.spark_statements import split_statements

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SPARK_PEOPLE = 150
SPARK_SEED = 11
# The layers built on Spark so far (docs/scale_out.md lists what is still to come).
SPARK_SELECTOR = "+staging"


def _require_java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        message = (
            "the Spark tests need Java 17 (apt-get install openjdk-17-jre-headless; .ci/run installs it)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The module's Spark settings; the session is stopped at the end of the module."""
    _require_java()
    folder = tmp_path_factory.mktemp("spark")
    values = {
        "CDP_SPARK_WAREHOUSE_DIR": str(folder / "warehouse"),
        "CDP_SPARK_MASTER": "local[2]",
        "CDP_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    with environment(values):
        yield values
    from reverse_etl.spark import stop_spark_session

    stop_spark_session()


@pytest.fixture(scope="module")
def built_pair(
    spark_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, Warehouse]:
    duck = new_duckdb_warehouse(tmp_path_factory.mktemp("duckdb_for_spark"))
    spark = Warehouse("spark", spark_env)
    for warehouse in (duck, spark):
        warehouse.generate(people=SPARK_PEOPLE, seed=SPARK_SEED)
        warehouse.dbt("build", "--select", SPARK_SELECTOR)
    return duck, spark


def _normalized(value: Any) -> Any:
    """Deliberate differences, listed in docs/scale_out.md: floats and decimals compared to 6 decimal places;
    timestamps to the microsecond (Spark's precision), without a time zone (the session runs in UTC)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (float, decimal.Decimal)):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(warehouse: Warehouse, relation: str, columns: list[str]) -> Counter[tuple[Any, ...]]:
    quote = "`" if warehouse.kind == "spark" else '"'
    select = ", ".join(f"{quote}{column}{quote}" for column in columns)
    return Counter(
        tuple(_normalized(value) for value in row)
        for row in warehouse.query(f"select {select} from {relation}")
    )


def _staging_models(duck: Warehouse) -> list[tuple[str, list[str]]]:
    names = [
        row[0]
        for row in duck.query(
            "select table_name from information_schema.tables where table_schema = 'staging' order by 1"
        )
    ]
    return [
        (
            name,
            [
                row[0]
                for row in duck.query(
                    "select column_name from information_schema.columns where table_schema = 'staging' "
                    "and table_name = ? order by ordinal_position",
                    [name],
                )
            ],
        )
        for name in names
    ]


def test_staging_on_spark_equals_duckdb_row_by_row(built_pair: tuple[Warehouse, Warehouse]) -> None:
    duck, spark = built_pair
    models = _staging_models(duck)
    assert len(models) >= 10
    mismatched = []
    for name, columns in models:
        expected = _rows(duck, f"staging.{name}", columns)
        actual = _rows(spark, f"staging.{name}", columns)
        if expected != actual:
            mismatched.append(
                f"{name}: {sum((expected - actual).values())} rows only on duckdb "
                f"(e.g. {next(iter(expected - actual), None)}), "
                f"{sum((actual - expected).values())} only on spark (e.g. {next(iter(actual - expected), None)})"
            )
    assert not mismatched, "\n".join(mismatched)
    assert sum(sum(_rows(spark, f"staging.{name}", columns).values()) for name, columns in models[:3]) > 0


def test_generated_raw_tables_persist_in_the_warehouse_folder(
    built_pair: tuple[Warehouse, Warehouse], spark_env: dict[str, str]
) -> None:
    duck, spark = built_pair
    folder = Path(spark_env["CDP_SPARK_WAREHOUSE_DIR"])
    assert (folder / "raw.db" / "orders").is_dir()
    assert (folder / "metastore_db").is_dir()
    assert spark.scalar("select count(*) from raw.orders") == duck.scalar("select count(*) from raw.orders")


def test_spark_target_reads_its_settings_from_the_environment(spark_env: dict[str, str]) -> None:
    from reverse_etl.project import load_target

    with environment({"CDP_SPARK_MASTER": "spark://cluster.internal:7077"}):
        target = load_target("spark")
    assert target.type == "spark"
    assert target.host == "spark://cluster.internal:7077"
    assert target.path == str(Path(spark_env["CDP_SPARK_WAREHOUSE_DIR"]).resolve())


def test_sync_engine_refuses_the_spark_target_with_a_clear_error(spark_env: dict[str, str]) -> None:
    from reverse_etl.errors import WarehouseError
    from reverse_etl.project import load_target
    from reverse_etl.warehouse import Warehouse as SyncWarehouse

    with pytest.raises(WarehouseError, match="spark target"):
        SyncWarehouse(load_target("spark"))


def test_bad_shuffle_partitions_is_a_config_error(spark_env: dict[str, str]) -> None:
    from reverse_etl.errors import ConfigError
    from reverse_etl.spark import spark_settings

    with (
        environment({"CDP_SPARK_SHUFFLE_PARTITIONS": "many"}),
        pytest.raises(ConfigError, match="PARTITIONS"),
    ):
        spark_settings()


def test_batches_split_outside_quotes_and_comments() -> None:
    sql = (
        "drop table if exists a; create table a as select ';' as x, 'it\\'s; fine' as y -- a; comment\n"
        "from b; /* only; a comment */ ; select `odd;name` from a;"
    )
    assert [statement.strip() for statement in split_statements(sql)] == [
        "drop table if exists a",
        "create table a as select ';' as x, 'it\\'s; fine' as y -- a; comment\nfrom b",
        "select `odd;name` from a",
    ]
    assert split_statements("select 1") == ["select 1"]
