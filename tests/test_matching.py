"""Fuzzy matching (`cdp match`): the project's trained model scores generated offline records against the CRM
on DuckDB and PostgreSQL, into a links table with a fixed contract; training writes a model that loads again;
the switch off leaves no links table; configuration mistakes name the key."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, Warehouse, fresh_warehouse, new_duckdb_warehouse
from identity_queries import customers
from reverse_etl.cli import cli
from reverse_etl.errors import ConfigError
from reverse_etl.generator.load import generate
from reverse_etl.matching import model as splink_model
from reverse_etl.matching.config import MatchingConfig, load
from reverse_etl.matching.records import load_records
from reverse_etl.matching.run import run_match
from reverse_etl.warehouse import Warehouse as Engine

PEOPLE, SEED, SHARE = 250, 21, 0.3
STAGING = ("stg_crm__contacts", "stg_shop__orders", "stg_support__tickets")
RAW_TABLE = {
    "stg_crm__contacts": "crm_contacts",
    "stg_shop__orders": "orders",
    "stg_support__tickets": "support_tickets",
}


def config(**overrides: Any) -> MatchingConfig:
    return load(ROOT, {"enabled": True, **overrides})


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def matched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    warehouse = fresh_warehouse(request.param, request, tmp_path_factory.mktemp("matching"), "cdp_match")
    generate(warehouse.target, people=PEOPLE, seed=SEED, offline_share=SHARE)
    warehouse.dbt("seed")  # staging reads the dialling plan and the event names
    warehouse.dbt("run", "--select", *STAGING)
    summary = run_match(warehouse.target, config())
    assert summary.enabled and not summary.trained and summary.links > 0
    return warehouse


def links(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.query(
        "select source_table_l, record_id_l, source_table_r, record_id_r, match_probability, match_weight, "
        "fired_levels, model_version from matching.record_links"
    )


def person(warehouse: Warehouse) -> dict[tuple[str, str], str]:
    return {
        (table, record): who
        for table, record, who in warehouse.query("select * from ground_truth.record_people")
    }


def test_links_table_contract(matched: Warehouse) -> None:
    columns = matched.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'matching' and table_name = 'record_links' order by ordinal_position"
    )
    assert [name for name, _ in columns] == [
        "source_table_l", "record_id_l", "source_table_r", "record_id_r", "match_probability", "match_weight",
        "fired_levels", "model_version", "scored_at",
    ]  # fmt: skip
    configured = config()
    version = splink_model.version(configured.model_file)
    rows = links(matched)
    for table_l, record_l, table_r, record_r, probability, weight, fired, model_version in rows:
        assert (table_l, record_l) < (table_r, record_r), "each pair once, its smaller record on the left"
        assert table_l in STAGING and table_r in STAGING
        assert 0.5 <= probability <= 1
        assert probability == pytest.approx(2**weight / (1 + 2**weight), abs=1e-6) or math.isclose(
            probability, 1
        )
        assert [part.split(":")[0] for part in fired.split("; ")] == configured.columns
        assert model_version == version
    assert len({row[:4] for row in rows}) == len(rows)


def test_offline_records_find_their_person_at_the_threshold(matched: Warehouse) -> None:
    truth = person(matched)
    threshold = config().threshold
    strong = [row for row in links(matched) if row[4] >= threshold]
    offline = [row for row in strong if row[1].endswith("_o") or row[3].endswith("_o")]
    right = [
        row for row in strong if truth[(RAW_TABLE[row[0]], row[1])] == truth[(RAW_TABLE[row[2]], row[3])]
    ]
    assert len(right) / len(strong) >= 0.98
    offline_records = matched.scalar(
        "select count(*) from ground_truth.record_people where record_id like '%\\_o' escape '\\'"
    )
    linked = {row[1] for row in offline if row[1].endswith("_o")} | {
        row[3] for row in offline if row[3].endswith("_o")
    }
    assert len(linked) >= 0.5 * offline_records


def test_both_warehouses_score_the_same_pairs(request: pytest.FixtureRequest, matched: Warehouse) -> None:
    if matched.kind != "postgres":
        pytest.skip("compared from the PostgreSQL run, against a DuckDB run of the same data")
    other = new_duckdb_warehouse(request.getfixturevalue("tmp_path"))
    generate(other.target, people=PEOPLE, seed=SEED, offline_share=SHARE)
    other.dbt("seed")
    other.dbt("run", "--select", *STAGING)
    run_match(other.target, config())
    rounded = lambda rows: sorted((*row[:4], round(row[4], 9), row[6]) for row in rows)  # noqa: E731
    assert rounded(links(matched)) == rounded(links(other))


def test_training_writes_a_model_that_scores_again(matched: Warehouse, tmp_path: Path) -> None:
    if matched.kind != "duckdb":
        pytest.skip("training runs in Splink's DuckDB backend whatever the warehouse")
    trained = dataclasses.replace(config(), model_file=tmp_path / "model.json", u_max_pairs=100_000)
    memory = duckdb.connect(":memory:")
    try:
        assert load_records(Engine(matched.target), trained, memory) > 0
        version = splink_model.train(trained, memory)
    finally:
        memory.close()
    model = splink_model.load(trained)
    assert version == splink_model.version(trained.model_file)
    assert "linker_uid" not in model, "the file changes only when the parameters do"
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        assert all(0 <= level.get("u_probability", 0.5) <= 1 for level in levels)
    assert 0 < model["probability_two_random_records_match"] < 0.01


def test_switched_off_drops_the_links_table(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema matching")
    warehouse.execute("create table matching.record_links (record_id_l varchar)")
    warehouse.execute("create table matching.scoring_statements (statement varchar)")
    summary = run_match(warehouse.target, config(enabled=False))
    assert not summary.enabled and "fuzzy matching is off" in summary.describe()
    assert (
        warehouse.query("select table_name from information_schema.tables where table_schema = 'matching'")
        == []
    )


def test_cli_match_follows_the_project_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "cdp.duckdb"))
    result = CliRunner().invoke(cli, ["match"])
    assert result.exit_code == 0, result.output
    assert "fuzzy matching is off (vars.cdp_matching.enabled: false)" in result.output


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"blocking_rules": [["last_name", "shoe_size"]]},
            r"cdp_matching.blocking_rules\[0\]: 'shoe_size' is not",
        ),
        ({"threshold": 1.5}, r"cdp_matching.threshold must be a match probability between 0 and 1, got 1.5"),
        (
            {"model_file": "/etc/model.json"},
            r"cdp_matching.model_file must be a .json path inside the project",
        ),
        (
            {
                "sources": [
                    {"model": "stg_crm__contacts", "record_id": "contact_id", "columns": {"surname": "x"}}
                ]
            },
            r"cdp_matching.sources\[0\].columns.surname is not a matching column",
        ),
        (
            {
                "sources": [
                    {
                        "model": "stg_crm__contacts",
                        "record_id": "contact_id",
                        "changed_at": "updated at",
                        "columns": {"last_name": "last_name"},
                    }
                ]
            },
            r"cdp_matching.sources\[0\].changed_at must be a model or column name, got 'updated at'",
        ),
        ({"enabled": "yes"}, r"cdp_matching.enabled must be true or false"),
        (
            {"training": {"em_max_pairs": 10}},
            r"cdp_matching.training.em_max_pairs must be a whole number of at least 1000, got 10",
        ),
    ],
    ids=["blocking column", "threshold", "model path", "source column", "change time", "switch", "EM budget"],
)
def test_a_bad_matching_config_names_the_key(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"dbt_project.yml: vars." + message):
        config(**overrides)


def test_a_model_for_other_columns_is_refused(tmp_path: Path) -> None:
    narrower = dataclasses.replace(config(), columns=["first_name", "last_name"])
    with pytest.raises(ConfigError, match="compares first_name, last_name, date_of_birth, .* train it again"):
        splink_model.load(narrower)
    missing = dataclasses.replace(config(), model_file=tmp_path / "none.json")
    with pytest.raises(
        ConfigError, match="no trained matching model at none.json; train one with `cdp match --train`"
    ):
        splink_model.load(missing)


# --- the identity graph reads the groups -----------------------------------------------------------------

IDENTITY_MODELS = ("+identity_graph", "+identity_records", "+identity_excluded_identifiers")


def build_identity(warehouse: Warehouse, enabled: bool, *extra: str) -> None:
    matching = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]["cdp_matching"]
    matching["enabled"] = enabled
    warehouse.dbt(
        "build", "--select", *IDENTITY_MODELS, "--indirect-selection", "cautious",
        "--vars", json.dumps({"cdp_matching": matching}), *extra,
    )  # fmt: skip


def record_customers(warehouse: Warehouse) -> dict[tuple[str, str], str]:
    return {
        (table, record): customer
        for table, record, customer in warehouse.query(
            "select source_table, record_id, customer_id from identity.identity_records where is_resolved"
        )
    }


@pytest.fixture(scope="module")
def resolved(matched: Warehouse) -> dict[str, Any]:
    before: dict[str, Any] = {"graph": {}, "records": {}}
    if matched.kind == "duckdb":  # the switch-off comparison runs on one warehouse
        build_identity(matched, enabled=False)
        before = {"graph": customers(matched), "records": record_customers(matched)}
    build_identity(matched, enabled=True)
    return {
        "warehouse": matched,
        "before": before,
        "graph": customers(matched),
        "records": record_customers(matched),
    }


def test_offline_records_join_their_person_in_the_identity_graph(resolved: dict[str, Any]) -> None:
    warehouse, records, before = resolved["warehouse"], resolved["records"], resolved["before"]["records"]
    truth = person(warehouse)
    offline = {key: customer for key, customer in records.items() if key[1].endswith("_o")}
    assert not {key for key in before if key[1].endswith("_o")}, (
        "without matching an offline record has no identifier"
    )
    joined = 0
    for (table, record), customer in offline.items():
        mates = [key for key, other in records.items() if other == customer and key != (table, record)]
        if mates:
            joined += 1
            people = {
                truth[(RAW_TABLE.get(key[0], key[0]), key[1])]
                for key in mates
                if (RAW_TABLE.get(key[0], key[0]), key[1]) in truth
            }
            assert people <= {truth[(RAW_TABLE[table], record)]}, f"{record} joined a stranger"
    assert joined >= 0.5 * len(offline)


def test_a_fuzzy_link_never_joins_two_accounts(resolved: dict[str, Any]) -> None:
    """Two records of two people with different user ids (max_per_customer 1) put in one group: the limit
    rule cuts the fuzzy link (the weakest), so neither customer gets a second account."""
    warehouse = resolved["warehouse"]
    first, second = warehouse.query(
        "select min(order_id) from staging.stg_shop__orders where user_id is not null group by user_id "
        "order by 1 limit 2"
    )
    warehouse.execute(
        "insert into matching.record_groups values ('stg_shop__orders', %(a)s, 'bogus'), "
        "('stg_shop__orders', %(b)s, 'bogus')".replace("%(a)s", f"'{first[0]}'").replace(
            "%(b)s", f"'{second[0]}'"
        )
    )
    warehouse.execute("update matching.record_groups_version set fingerprint = 'with a bogus group'")
    build_identity(warehouse, enabled=True)
    records = record_customers(warehouse)
    assert records[("stg_shop__orders", first[0])] != records[("stg_shop__orders", second[0])]
    accounts = warehouse.scalar(
        "select max(accounts) from (select customer_id, count(*) as accounts from identity.identity_graph "
        "where identifier_type = 'user_id' group by customer_id) as counted"
    )
    assert accounts == 1


def test_explain_shows_a_fuzzy_link_with_probability_and_levels(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = resolved["warehouse"]
    if warehouse.kind != "duckdb":
        pytest.skip("explain reads the same tables on every warehouse")
    # An offline CRM contact merged into a customer that also has an email.
    record, email = warehouse.query(
        """
        select offline.record_id, graph.identifier_value
        from identity.identity_records as offline
        join identity.identity_graph as graph on graph.customer_id = offline.customer_id and graph.identifier_type = 'email'
        where offline.record_id like 'crm\\_%\\_o' escape '\\' and offline.is_resolved
        order by offline.record_id limit 1
        """
    )[0]
    group = warehouse.scalar("select match_group from matching.record_groups where record_id = ?", (record,))
    for key, value in warehouse.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["identity", "explain", f"email:{email}", f"fuzzy_match:{group}"])
    assert result.exit_code == 0, result.output
    assert f"fuzzy_match:{group} is a fuzzy match (cdp match); its strongest scored pairs:" in result.output
    assert re.search(
        r"~ stg_\w+ \w+: probability (0\.99\d\d|1\.0000), weight \d+\.\d \(first_name: ", result.output
    )
    assert "date_of_birth: " in result.output


def test_switched_off_the_graph_is_exactly_what_it_was(resolved: dict[str, Any]) -> None:
    warehouse = resolved["warehouse"]
    if warehouse.kind != "duckdb":
        pytest.skip("one warehouse is enough to compare a build with itself")
    assert resolved["graph"] != resolved["before"]["graph"], "matching changed the graph"
    build_identity(warehouse, enabled=False)
    # The same customers (ids may move: a merge undone hands an id to the larger part, as for any split).
    assert set(customers(warehouse).values()) == set(resolved["before"]["graph"].values())
    assert partition(record_customers(warehouse)) == partition(resolved["before"]["records"])


def partition(assignment: dict[tuple[str, str], str]) -> set[frozenset[tuple[str, str]]]:
    groups: dict[str, set[tuple[str, str]]] = {}
    for key, customer in assignment.items():
        groups.setdefault(customer, set()).add(key)
    return {frozenset(group) for group in groups.values()}
