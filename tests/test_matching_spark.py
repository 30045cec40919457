"""`cdp match` on the spark target: the same generated records matched on DuckDB and on Spark give the same
links, groups and fingerprint, on a full run and on an incremental run after new, changed and removed
records; a run cut off before it publishes leaves the last run's tables as they were; a second run is refused
while one holds the lock; and the identity layer built on Spark with the links reads them as DuckDB's does.
One Spark session for the module, a few hundred records."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from engine_compare import record_partition

from conftest import ROOT, Warehouse, environment, new_duckdb_warehouse
from reverse_etl.errors import RunLocked
from reverse_etl.generator.load import generate
from reverse_etl.matching.config import MatchingConfig, load
from reverse_etl.matching.demo import demo_matching_vars
from reverse_etl.matching.run import match_lock, run_match
from reverse_etl.matching.spark_tables import SparkTables, spark_lock_warehouse

pytestmark = pytest.mark.spark

PEOPLE, SEED, SHARE = 60, 31, 0.5
STAGING = ("stg_crm__contacts", "stg_shop__orders", "stg_support__tickets")
LINKS = (
    "select source_table_l, record_id_l, source_table_r, record_id_r, match_probability, match_weight, "
    "fired_levels, model_version from matching.record_links"
)


def config() -> MatchingConfig:
    return load(ROOT, {"enabled": True})


def matched(warehouse: Warehouse) -> dict[str, Any]:
    """The links (scores rounded: the same sums in another order), the groups and their fingerprint."""
    return {
        "links": {
            tuple(row[:4]): (round(row[4], 9), round(row[5], 6), *row[6:]) for row in warehouse.query(LINKS)
        },
        "groups": set(
            warehouse.query("select source_table, record_id, match_group from matching.record_groups")
        ),
        "fingerprint": warehouse.query("select fingerprint from matching.record_groups_version"),
    }


def match(warehouse: Warehouse, **options: Any) -> Any:
    with environment(warehouse.env):
        return run_match(warehouse.target, config(), **options)


def change_records(warehouse: Warehouse, offline: list[str], retimed: str) -> None:
    """Two offline contacts copied with a typo in the first name, one surname changed (its updated_at moved
    an hour, as the change-time contract asks), one contact removed, and one contact's updated_at moved an
    hour with nothing else changed (Spark has no UPDATE or DELETE: there the raw table is written again)."""
    copies, changed, removed = offline[:2], offline[2], offline[3]
    typo = {"contact_id": "concat(contact_id, '_copy')", "first_name": "concat(first_name, 'e')"}
    names = ", ".join(
        f"{typo[column]} as {column}" if column in typo else column for column in CONTACT_COLUMNS
    )
    copied = f"select {names} from raw.crm_contacts where contact_id in ({', '.join('?' for _ in copies)})"  # noqa: S608
    if warehouse.kind == "duckdb":
        warehouse.execute(f"insert into raw.crm_contacts {copied}", copies)
        warehouse.execute(
            "update raw.crm_contacts set last_name = last_name || 'x', updated_at = updated_at + interval 1 hour "
            "where contact_id = ?",
            (changed,),
        )
        warehouse.execute(
            "update raw.crm_contacts set updated_at = updated_at + interval 1 hour where contact_id = ?",
            (retimed,),
        )
        warehouse.execute("delete from raw.crm_contacts where contact_id = ?", (removed,))
        return
    moved = {
        "last_name": ("case when contact_id = ? then concat(last_name, 'x') else last_name end", [changed]),
        "updated_at": (
            "case when contact_id in (?, ?) then updated_at + interval 1 hour else updated_at end",
            [changed, retimed],
        ),
    }
    kept = ", ".join(
        f"{moved[column][0]} as {column}" if column in moved else column for column in CONTACT_COLUMNS
    )
    params = [value for column in CONTACT_COLUMNS if column in moved for value in moved[column][1]]
    warehouse.execute(
        f"create table raw.crm_contacts_next using parquet as select {kept} from raw.crm_contacts "  # noqa: S608
        f"where contact_id <> ? union all {copied}",
        (*params, removed, *copies),
    )
    warehouse.execute("drop table raw.crm_contacts")
    warehouse.execute("alter table raw.crm_contacts_next rename to raw.crm_contacts")


def kept_time(warehouse: Warehouse, contact: str) -> Any:
    """The change time matching.scored_records keeps for the contact."""
    return warehouse.query(
        "select cast(changed_at as timestamp) from matching.scored_records "
        "where source_table = 'stg_crm__contacts' and record_id = ?",
        (contact,),
    )


CONTACT_COLUMNS: list[str] = []


@pytest.fixture(scope="module")
def engines(spark_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    duck = new_duckdb_warehouse(tmp_path_factory.mktemp("duckdb_for_spark_matching"))
    spark = Warehouse("spark", spark_env)
    runs: dict[str, Any] = {"duckdb": duck, "spark": spark}
    for warehouse in (duck, spark):
        with environment(warehouse.env):
            generate(warehouse.target, people=PEOPLE, seed=SEED, offline_share=SHARE)
        warehouse.dbt("seed")  # staging reads the dialling plan and the event names
        warehouse.dbt("run", "--select", *STAGING)
        runs[warehouse.kind, "first"] = match(warehouse)
        runs[warehouse.kind, 1] = matched(warehouse)
    CONTACT_COLUMNS[:] = [row[0] for row in duck.query("describe raw.crm_contacts")]
    linked = {record for pair in runs["duckdb", 1]["links"] for record in (pair[:2], pair[2:])}
    offline = sorted(
        record for table, record in linked if table == "stg_crm__contacts" and record.endswith("_o")
    )
    assert len(offline) >= 4, "the generated data has linked offline contacts"
    runs["offline"] = offline
    retimed = str(
        duck.query(
            "select min(contact_id) from raw.crm_contacts where contact_id not in (?, ?, ?, ?)", offline[:4]
        )[0][0]
    )
    runs["retimed"] = retimed
    for warehouse in (duck, spark):
        runs[warehouse.kind, "time before"] = kept_time(warehouse, retimed)
        change_records(warehouse, offline, retimed)
        warehouse.dbt("run", "--select", *STAGING)  # tables on Spark: built again from the changed raw rows
        runs[warehouse.kind, "incremental"] = match(warehouse)
        runs[warehouse.kind, 2] = matched(warehouse)
    return runs


def test_a_full_run_on_spark_writes_duckdbs_links_and_groups(engines: dict[str, Any]) -> None:
    spark, duck = engines["spark", 1], engines["duckdb", 1]
    assert engines["spark", "first"].full
    assert duck["links"] and duck["groups"]
    assert spark == duck
    first = engines["spark", "first"]
    assert (first.records, first.links, first.above_threshold) == (
        engines["duckdb", "first"].records,
        engines["duckdb", "first"].links,
        engines["duckdb", "first"].above_threshold,
    )


def test_an_incremental_run_on_spark_scores_only_the_changes_and_equals_duckdb(
    engines: dict[str, Any],
) -> None:
    incremental = engines["spark", "incremental"]
    assert not incremental.full and incremental.scored_records == 3, "two copies and one changed contact"
    assert incremental.records == engines["duckdb", "incremental"].records
    # The contact whose updated_at alone moved was not scored; its new time is kept (on both engines).
    for kind in ("spark", "duckdb"):
        (before,), after = engines[kind, "time before"], kept_time(engines[kind], engines["retimed"])
        assert len(after) == 1 and after[0][0] - before[0] == timedelta(hours=1), kind
    assert engines["spark", 2] == engines["duckdb", 2]
    assert engines["spark", 2] != engines["spark", 1]
    removed = ("stg_crm__contacts", engines["offline"][3])
    assert not any(removed in (pair[:2], pair[2:]) for pair in engines["spark", 2]["links"])
    # A full run on Spark gives what the incremental run wrote.
    spark: Warehouse = engines["spark"]
    assert match(spark, full=True).full
    assert matched(spark) == engines["spark", 2]


def test_a_run_cut_off_before_publishing_leaves_the_last_tables(
    engines: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after writing its partitions and before the one statement that publishes them, a run changed
    nothing a reader sees; the next run removes what it left and writes the same tables."""
    spark: Warehouse = engines["spark"]
    before = matched(spark)

    def killed(self: SparkTables, published: dict[str, str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SparkTables, "_publish", killed)
    with pytest.raises(KeyboardInterrupt):
        match(spark, full=True)
    assert matched(spark) == before
    monkeypatch.undo()
    again = match(spark)
    assert not again.full and again.scored_records == 0
    assert matched(spark) == before
    partitions = spark.query("show partitions matching.record_links_generations")
    assert len(partitions) <= 2, (
        "the cut-off run's partitions are gone; at most the previous generation is kept"
    )


def test_a_second_run_is_refused_while_one_holds_the_lock(engines: dict[str, Any]) -> None:
    spark: Warehouse = engines["spark"]
    with environment(spark.env):
        store = spark_lock_warehouse()
        try:
            with match_lock(store), pytest.raises(RunLocked, match="already running"):
                match(spark)
        finally:
            store.close()


def test_the_identity_layer_on_spark_reads_the_links_as_on_duckdb(engines: dict[str, Any]) -> None:
    partitions = {}
    for kind in ("duckdb", "spark"):
        warehouse: Warehouse = engines[kind]
        enabled = json.dumps({"cdp_matching": demo_matching_vars()})
        warehouse.dbt("run", "--select", "+identity_records", "--vars", enabled)
        partitions[kind] = record_partition(warehouse)
        fuzzy = warehouse.scalar(
            "select count(*) from identity.identity_records where matched_on_identifier_type = 'fuzzy_match'"
        )
        assert fuzzy > 0, f"{kind}: records resolved through a fuzzy link"
    assert partitions["spark"] == partitions["duckdb"]


def test_matching_switched_off_drops_the_spark_tables(engines: dict[str, Any]) -> None:
    spark: Warehouse = engines["spark"]
    with environment(spark.env):
        summary = run_match(spark.target, load(ROOT, {"enabled": False}))
    assert not summary.enabled
    tables = [row for row in spark.query("show tables in matching") if not row[2]]  # not the temporary views
    assert tables == []
