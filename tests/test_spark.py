"""The project on Apache Spark (the `spark` target, dbt-spark's session method with pyspark in-process): the
same demo data generated into DuckDB and into Spark and built on both three times (tests/spark_builds.py: a
first build, an incremental run after new records and a forget request, a full refresh), every staging model,
identity output, mart, privacy table, segment and activation model compared row by row after each build (an
order-independent multiset of normalized rows, tests/engine_compare.py), and the identity partition. One
Spark session for the module, in a warehouse folder of its own."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_compare import differences
from spark_builds import Builds, run_builds

from conftest import IN_CI, Warehouse, environment, new_duckdb_warehouse
from reverse_etl.spark_statements import spark_literal, split_statements

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SPARK_PEOPLE = 150
SPARK_SEED = 11
# Contracted models and the identity outputs the comparison must cover (it reads every relation of the
# compared schemas; these must be among them).
MUST_COMPARE = [
    "identity.identity_graph",
    "identity.identity_records",
    "identity.customer_id_history",
    "identity.identity_excluded_identifiers",
    "marts.customers",
    "marts.customer_traits",
    "marts.customer_360",
    "marts.orders",
    "marts.order_lines",
    "marts.events",
    "marts.households",
    "privacy.privacy_suppressions",
    "segments.segment_memberships",
    "segments.seg_high_value",
    "segments.seg_declared",
    "activation.sync_webhook__customers",
    "activation.sync_hubspot__contacts",
    "activation.sync_ads__audience_members",
    "staging.stg_crm__contacts",
]


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
def builds(spark_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Builds:
    duck = new_duckdb_warehouse(tmp_path_factory.mktemp("duckdb_for_spark"))
    return run_builds(duck, Warehouse("spark", spark_env), SPARK_PEOPLE, SPARK_SEED)


def _assert_equal(builds: Builds, build: int) -> None:
    mismatched = differences(builds.rows["duckdb", build], builds.rows["spark", build])
    assert not mismatched, f"build {build}:\n" + "\n".join(mismatched)


def test_the_comparison_covers_every_contracted_model_and_the_activation_models(builds: Builds) -> None:
    from reverse_etl.project import target_dir

    manifest = json.loads((target_dir() / "manifest.json").read_text())
    contracted = {
        f"{node['schema']}.{node['alias']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("contract", {}).get("enforced")
    }
    compared = {relation.qualified for relation in builds.relations}
    assert contracted and contracted <= compared, contracted - compared
    assert set(MUST_COMPARE) <= compared, set(MUST_COMPARE) - compared
    assert sum(name.startswith("activation.sync_") for name in compared) >= 8


def test_the_first_build_on_spark_equals_duckdb_row_by_row(builds: Builds) -> None:
    _assert_equal(builds, 1)
    first = builds.rows["spark", 1]
    for relation in (
        "marts.customers",
        "marts.orders",
        "segments.segment_memberships",
        "identity.identity_graph",
    ):
        assert sum(first[relation].values()) > 0, relation


def test_the_identity_partition_is_the_same_on_both_engines(builds: Builds) -> None:
    for build in (1, 2, 3):
        assert builds.partitions["duckdb", build] == builds.partitions["spark", build], f"build {build}"
    assert len(builds.partitions["spark", 1]) > 50
    assert any(len(records) > 2 for records in builds.partitions["spark", 1])


def test_an_incremental_run_after_new_records_equals_duckdb(builds: Builds) -> None:
    assert builds.spark_modes[2] == "incremental"
    _assert_equal(builds, 2)
    assert builds.rows["spark", 2] != builds.rows["spark", 1], "the new records changed the results"


def test_a_full_refresh_equals_duckdb(builds: Builds) -> None:
    assert builds.spark_modes[3] == "full"
    _assert_equal(builds, 3)


def test_customer_ids_stay_stable_on_spark_and_a_merge_keeps_the_older_id(builds: Builds) -> None:
    before, after = builds.customers[1], builds.customers[2]
    first_id, first_email, second_id, second_phone = builds.merged
    owner = {identifier: customer_id for customer_id, members in after.items() for identifier in members}
    unchanged = {
        customer_id: members for customer_id, members in before.items() if members in set(after.values())
    }
    assert len(unchanged) >= len(before) - 4
    for customer_id, members in unchanged.items():
        assert after.get(customer_id) == members, "a customer whose identifiers did not change kept its id"
    assert owner[("email", first_email)] == owner[("phone", second_phone)] == min(first_id, second_id)
    assert owner[("email", "brand.new.person@newmail.io")] not in before


def test_a_forget_request_survives_a_full_refresh_on_spark(builds: Builds) -> None:
    customer_id, email = builds.forgotten
    synced = builds.rows["spark", 1]["activation.sync_webhook__customers"]
    assert any(customer_id in row for row in synced), "the forgotten customer was synced before the request"
    memberships = next(r for r in builds.relations if r.qualified == "segments.segment_memberships")
    exited_at = memberships.columns.index("exited_at")
    for build in (2, 3):
        rows = builds.rows["spark", build]
        for relation, relation_rows in rows.items():
            if relation.startswith(("marts.", "activation.", "segments.seg_")):
                assert not any(customer_id in repr(row) for row in relation_rows), (
                    f"{relation} holds the forgotten customer after build {build}"
                )
        open_stays = [
            row
            for row in rows["segments.segment_memberships"]
            if customer_id in row and row[exited_at] is None
        ]
        assert not open_stays, f"open segment stays of the forgotten customer after build {build}"
    for relation in ("marts.customers", "activation.sync_webhook__customers"):
        assert not any(email in repr(row) for row in builds.rows["spark", 3][relation]), relation
    applied = builds.spark.query(
        "select customer_ids from privacy.privacy_requests_applied where privacy_request_id = 'prq_spark'"
    )
    assert applied and customer_id in applied[0][0]


def test_generated_raw_tables_persist_in_the_warehouse_folder(
    builds: Builds, spark_env: dict[str, str]
) -> None:
    duck, spark = builds.duck, builds.spark
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


def test_bound_values_become_spark_literals() -> None:
    assert spark_literal(None) == "null"
    assert spark_literal("a person's \\d") == "'a person\\'s \\\\d'"
    assert spark_literal(3) == 3.0
