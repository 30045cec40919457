"""Fuzzy matching (`cdp match`): the project's trained model scores generated offline records against the CRM
on DuckDB and PostgreSQL, into a links table with a fixed contract; training writes a model that loads again;
the switch off leaves no links table; configuration mistakes name the key."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from conftest import ROOT, Warehouse, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.cli import cli
from reverse_etl.errors import ConfigError
from reverse_etl.generator.load import generate
from reverse_etl.matching import model as splink_model
from reverse_etl.matching.config import MatchingConfig, load
from reverse_etl.matching.records import load_records
from reverse_etl.matching.run import run_match
from reverse_etl.warehouse import Warehouse as Engine

PEOPLE, SEED, SHARE = 400, 21, 0.3
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
        ({"enabled": "yes"}, r"cdp_matching.enabled must be true or false"),
    ],
    ids=["blocking column", "threshold", "model path", "source column", "switch"],
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
