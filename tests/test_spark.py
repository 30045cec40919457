"""The project on Apache Spark (the `spark` target, dbt-spark's session method with pyspark in-process), the
seeds and staging layer in full: the same demo data generated into DuckDB and into Spark, the seeds and the
staging layer (models, unit tests and data tests) built on both and compared row by row (an order-independent
multiset of normalized rows, tests/engine_compare.py), plus the target's settings and statement handling.
tests/test_spark_project.py builds the whole project three times on both engines (in `make test` too;
`make test-spark` runs it alone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_compare import Normalizer, compared_relations, differences, relation_rows

from conftest import Warehouse, environment, new_duckdb_warehouse
from reverse_etl.spark_statements import spark_literal, split_statements

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SPARK_PEOPLE = 150
SPARK_SEED = 11


@pytest.fixture(scope="module")
def staged(
    spark_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, Warehouse]:
    duck = new_duckdb_warehouse(tmp_path_factory.mktemp("duckdb_for_spark"))
    spark = Warehouse("spark", spark_env)
    for warehouse in (duck, spark):
        warehouse.generate(people=SPARK_PEOPLE, seed=SPARK_SEED)
        warehouse.dbt("build", "--select", "+staging")
    return duck, spark


def test_seeds_and_staging_on_spark_equal_duckdb_row_by_row(staged: tuple[Warehouse, Warehouse]) -> None:
    duck, spark = staged
    relations = [
        relation for relation in compared_relations(duck) if relation.schema in {"config", "staging"}
    ]
    assert len([relation for relation in relations if relation.schema == "staging"]) >= 10
    normalize = Normalizer([], [])
    rows = {
        warehouse.kind: {
            relation.qualified: relation_rows(warehouse, relation, normalize) for relation in relations
        }
        for warehouse in staged
    }
    assert sum(len(counter) for counter in rows["spark"].values()) > 0
    mismatched = differences(rows["duckdb"], rows["spark"])
    assert not mismatched, "\n".join(mismatched)


def test_generated_raw_tables_persist_in_the_warehouse_folder(
    staged: tuple[Warehouse, Warehouse],
    spark_env: dict[str, str],
) -> None:
    duck, spark = staged
    folder = Path(spark_env["CDP_SPARK_WAREHOUSE_DIR"])
    assert (folder / "raw.db" / "orders").is_dir()
    assert (folder / "metastore_db").is_dir()
    assert spark.scalar("select count(*) from raw.orders") == duck.scalar("select count(*) from raw.orders")


# A staged CTE (cdp.with_ctes, computed first and cached on Spark) with a column and a string spelled like its
# name, read by a later CTE twice, aliased and not: only the two references may be renamed.
STAGED_CTE_QUERY = """
{%- set ctes = [] -%}
{%- call cdp.cte(ctes, 'cdp_probe') %} select 'cdp_probe' as label, 1 as cdp_probe {% endcall -%}
{%- call cdp.cte(ctes, 'later') %}
    select probe.label, cdp_probe.cdp_probe as value
    from cdp_probe as probe inner join cdp_probe on cdp_probe.cdp_probe = probe.cdp_probe
{% endcall -%}
{{ cdp.with_ctes(ctes, ['cdp_probe']) }}
select label, value from later
"""


def test_a_staged_cte_keeps_columns_and_strings_spelled_like_it(staged: tuple[Warehouse, Warehouse]) -> None:
    _, spark = staged
    result = spark.dbt("show", "--inline", STAGED_CTE_QUERY)
    assert [tuple(row) for row in result.results[0].agate_table.rows] == [("cdp_probe", 1)]


def test_spark_target_reads_its_settings_from_the_environment(spark_env: dict[str, str]) -> None:
    from reverse_etl.project import load_target

    with environment({"CDP_SPARK_MASTER": "spark://cluster.internal:7077"}):
        target = load_target("spark")
    assert target.type == "spark"
    assert target.host == "spark://cluster.internal:7077"
    assert target.path == str(Path(spark_env["CDP_SPARK_WAREHOUSE_DIR"]).resolve())


def test_syncs_keep_their_state_beside_spark_and_the_app_refuses_the_target(
    spark_env: dict[str, str],
) -> None:
    from reverse_etl.errors import WarehouseError
    from reverse_etl.project import load_target
    from reverse_etl.warehouse import Warehouse as SyncWarehouse
    from reverse_etl.warehouse import sync_warehouse

    with pytest.raises(WarehouseError, match="spark target"):
        SyncWarehouse(load_target("spark"))
    state = sync_warehouse(load_target("spark"))
    assert state.kind == "duckdb" and state.models == load_target("spark")
    assert Path(state.target.path).parent == Path(spark_env["CDP_SPARK_WAREHOUSE_DIR"]).resolve()


def test_bad_shuffle_partitions_is_a_config_error(spark_env: dict[str, str]) -> None:
    from reverse_etl.errors import ConfigError
    from reverse_etl.spark import spark_settings

    with (
        environment({"CDP_SPARK_SHUFFLE_PARTITIONS": "many"}),
        pytest.raises(ConfigError, match="PARTITIONS"),
    ):
        spark_settings()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CDP_SPARK_CODEGEN", "off", "CDP_SPARK_CODEGEN must be true or false"),
        ("CDP_SPARK_ADAPTIVE", "1", "CDP_SPARK_ADAPTIVE must be true or false"),
        ("CDP_SPARK_CATALOG", "derby", "CDP_SPARK_CATALOG must be one of hive, in-memory"),
    ],
)
def test_bad_tuning_settings_are_config_errors(variable: str, value: str, named: str) -> None:
    from reverse_etl.errors import ConfigError
    from reverse_etl.spark import spark_settings

    with environment({variable: value}), pytest.raises(ConfigError, match=named):
        spark_settings()


def test_tuning_settings_default_to_real_use_and_read_the_environment() -> None:
    from reverse_etl.spark import spark_settings

    unset = {"CDP_SPARK_CODEGEN": "", "CDP_SPARK_ADAPTIVE": "", "CDP_SPARK_CATALOG": ""}
    with environment(unset | {"CDP_SPARK_DRIVER_JAVA_OPTIONS": ""}):
        defaults = spark_settings()
    assert (defaults.codegen, defaults.adaptive, defaults.catalog, defaults.java_options) == (
        True,
        True,
        "hive",
        "",
    )
    with environment(
        {"CDP_SPARK_CODEGEN": "False", "CDP_SPARK_ADAPTIVE": "false", "CDP_SPARK_CATALOG": "In-Memory"}
        | {"CDP_SPARK_DRIVER_JAVA_OPTIONS": " -XX:TieredStopAtLevel=1 "}
    ):
        tuned = spark_settings()
    assert (tuned.codegen, tuned.adaptive, tuned.catalog) == (False, False, "in-memory")
    assert tuned.java_options == "-XX:TieredStopAtLevel=1"


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


def test_bound_values_become_spark_literals() -> None:
    assert spark_literal(None) == "null"
    assert spark_literal("a person's \\d") == "'a person\\'s \\\\d'"
    assert spark_literal(3) == 3.0
