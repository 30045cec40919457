"""The whole project on Apache Spark (the `spark` target, dbt-spark's session method with pyspark in-process): the
same demo data generated into DuckDB and into Spark and built on both three times (tests/spark_builds.py: a
first build, an incremental run after new records and a forget request, a full refresh), every staging model,
identity output, mart, privacy table, segment and activation model compared row by row after each build (an
order-independent multiset of normalized rows, tests/engine_compare.py), and the identity partition. One
Spark session for the module, in a warehouse folder of its own."""

from __future__ import annotations

import json

import pytest
from engine_compare import differences
from spark_builds import Builds, run_builds

from conftest import Warehouse, new_duckdb_warehouse

# In `make test`, the first file of its queue (tests/conftest.py, HEAVIEST_FIRST); `make test-spark` runs it
# alone (docs/testing.md).
pytestmark = [pytest.mark.spark, pytest.mark.spark_project, pytest.mark.slow]

SPARK_PEOPLE = 150
SPARK_SEED = 11
# The module builds and reads in its own process only: Spark's in-memory catalog instead of the Derby metastore
# (tests/conftest.py, spark_env). tests/test_spark.py checks the tables persist through the metastore.
SPARK_CATALOG = "in-memory"
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
