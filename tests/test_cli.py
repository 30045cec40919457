"""The top-level commands: demo, summary, dbt passthrough and the error handler."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MODELS_ONLY_ENV, ROOT
from reverse_etl.cli import cli
from reverse_etl.errors import ConfigError, DbtError
from reverse_etl.sandbox.registry import FAKES


@dataclass
class DemoRun:
    output: str


def run_demo(env: dict[str, str] | None = None) -> DemoRun:
    """`cdp demo` in a process of its own, as a user runs it (dbt keeps DuckDB files open in its process)."""
    done = subprocess.run(
        [sys.executable, "-m", "reverse_etl.cli", "demo", "--people", "120", "--seed", "5"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return DemoRun(done.stdout)


def test_demo_generates_builds_and_prints_rows_per_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "demo.duckdb"))
    result = run_demo()
    assert "generated 120 people (seed 5)" in result.output
    assert "dbt build:" in result.output
    merged = re.search(r"fuzzy matching merged records into (\d+) customers", result.output)
    assert merged and int(merged.group(1)) >= 1, "the demo runs fuzzy matching on its offline records"
    for layer in ("raw (", "staging ("):
        assert layer in result.output
    staged_contacts = next(line for line in result.output.splitlines() if "stg_crm__contacts" in line)
    raw_contacts = next(
        line for line in result.output.splitlines() if line.strip().startswith("crm_contacts ")
    )
    assert staged_contacts.split()[-1] == raw_contacts.split()[-1] != "0"

    activation_rows = next(
        line for line in result.output.splitlines() if line.strip().startswith("sync_webhook__customers")
    )
    synced = next(
        line for line in result.output.splitlines() if "webhook_customers" in line and "confirmed" in line
    )
    expected = activation_rows.split()[-1]
    assert (
        f"sent {expected:>7}" in synced
        and f"confirmed {expected:>7}" in synced
        and "rejected     0" in synced
    )

    synced_lines = [line.split() for line in result.output.splitlines() if " confirmed " in line]
    # Every sandbox fake, and the profile store (local, no fake).
    assert {line[0] for line in synced_lines} == set(FAKES) | {"profile_store"}
    for line in synced_lines:
        sent, confirmed = int(line[3].replace(",", "")), int(line[5].replace(",", ""))
        assert sent == confirmed > 0, line

    lookup = next(line for line in result.output.splitlines() if "lookup by email" in line)
    assert '"customer_id": "cus_' in lookup and (tmp_path / "cdp_profiles.sqlite").is_file()

    summary = CliRunner().invoke(cli, ["summary"])
    assert summary.exit_code == 0
    assert staged_contacts.strip() in summary.output

    # A second demo on the same file starts from an empty sandbox, so it syncs everything again. Its build
    # runs the seeds and models only (dbt's own setting): the first demo ran every unit and data test.
    assert synced in run_demo(MODELS_ONLY_ENV).output


def test_dbt_passthrough_reports_failures_as_dbt_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "empty.duckdb"))
    # Staging views over raw tables that were never generated fail at build time, naming the model.
    result = CliRunner().invoke(cli, ["dbt", "run", "--select", "stg_crm__contacts"])
    assert isinstance(result.exception, DbtError)
    assert "stg_crm__contacts" in str(result.exception)


def test_unknown_target_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["summary", "--target", "snowflake"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown target 'snowflake'" in str(result.exception)


def test_every_error_class_has_its_exit_code_documented() -> None:
    import inspect
    import re

    from reverse_etl import errors

    section = (ROOT / "docs" / "syncs.md").read_text().split("## Exit codes", 1)[1]
    documented = {
        name: int(code)
        for code, classes in re.findall(r"^\| (\d+) \| ([^|]*) \|", section, re.MULTILINE)
        for name in re.findall(r"`(\w+)`", classes)
    }
    classes = {
        name: value.exit_code
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.CdpError)
    }
    assert documented == classes
    assert errors.DestinationAuthError.exit_code == 7
