"""Segments declared in YAML (vars.cdp_segments): members match their conditions on both warehouses, and
bad definitions are refused with the segment and field named, by dbt and by `cdp segments validate`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, Warehouse
from reverse_etl.audiences.definitions import validate_segments
from reverse_etl.cli import cli
from reverse_etl.errors import ConfigError, DbtError


def test_declared_segment_members_are_exactly_the_customers_meeting_the_conditions(
    built_warehouse: Warehouse,
) -> None:
    declared = {
        customer
        for (customer,) in built_warehouse.query(
            "select customer_id from segments.seg_declared where segment_name = 'lapsed_email_subscribers'"
        )
    }
    expected = {
        customer
        for (customer,) in built_warehouse.query(
            "select customer_id from marts.customer_traits "
            "where has_email_consent and not is_unsubscribed and email_opens_90d = 0 and orders >= 1"
        )
    }
    assert declared == expected and len(declared) > 10
    open_stays = built_warehouse.scalar(
        "select count(*) from segments.segment_memberships where segment_name = 'lookalike_seed' and exited_at is null"
    )
    assert open_stays == built_warehouse.scalar(
        "select count(*) from segments.seg_declared where segment_name = 'lookalike_seed'"
    )


def project_copy(tmp_path: Path, change) -> Path:
    (tmp_path / "models" / "marts").mkdir(parents=True)
    shutil.copy(ROOT / "models" / "marts" / "_marts__models.yml", tmp_path / "models" / "marts")
    shutil.copytree(ROOT / "macros" / "segments", tmp_path / "macros" / "segments")
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    change(project["vars"]["cdp_segments"])
    (tmp_path / "dbt_project.yml").write_text(yaml.safe_dump(project))
    return tmp_path


BAD = [
    (
        lambda s: s["lookalike_seed"]["conditions"].append({"trait": "salary", "op": "=", "value": 1}),
        r"vars.cdp_segments.lookalike_seed.conditions\[3\].trait: 'salary' is not a column of customer_traits",
    ),
    (
        lambda s: s["lookalike_seed"]["conditions"].append(
            {"trait": "orders", "op": "; drop table x; --", "value": 1}
        ),
        r"vars.cdp_segments.lookalike_seed.conditions\[3\].op: '; drop table x; --' is not allowed",
    ),
    (
        lambda s: s["lookalike_seed"]["conditions"].append({"trait": "orders", "op": "in", "value": []}),
        r"vars.cdp_segments.lookalike_seed.conditions\[3\].value: 'in' needs a non-empty list",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=["unknown trait", "unsafe operator", "empty list"])
def test_validator_names_the_segment_and_field(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(ConfigError, match=r"dbt_project.yml: " + message):
        validate_segments(project_copy(tmp_path, change))


def test_text_values_are_quoted_not_executed(tmp_path: Path) -> None:
    root = project_copy(
        tmp_path,
        lambda s: s.update(
            {"odd": {"conditions": [{"trait": "customer_id", "op": "=", "value": "x' or '1'='1"}]}}
        ),
    )
    assert validate_segments(root)["odd"] == "customer_id = 'x'' or ''1''=''1'"


@pytest.mark.parametrize(("change", "message"), BAD[:2], ids=["unknown trait", "unsafe operator"])
def test_dbt_refuses_the_same_definitions_at_compile_time(
    built_duckdb: Warehouse, change, message: str
) -> None:
    segments = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]["cdp_segments"]
    change(segments)
    with pytest.raises(DbtError, match=message):
        built_duckdb.dbt(
            "compile", "--select", "seg_declared", "--vars", json.dumps({"cdp_segments": segments})
        )


def test_cli_validate_prints_each_segment(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["segments", "validate"])
    assert result.exit_code == 0
    assert "lapsed_email_subscribers: where has_email_consent = true" in result.output
