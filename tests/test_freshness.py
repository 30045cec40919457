"""Source freshness gates syncs: dbt source freshness on the raw tables, and which models read a stale source."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, environment, new_duckdb_warehouse
from reverse_etl.cli import cli
from reverse_etl.cli_options import generated_dates
from reverse_etl.freshness import FreshnessGate, check_sources
from reverse_etl.generator.load import FIXED_END, build_in_memory
from reverse_etl.generator.schema import RAW_TABLES
from reverse_etl.sync.service import project_syncs
from reverse_etl.warehouse import utc_now

WEB_TABLES = ["identifies", "tracks", "pages"]


def test_syncs_wait_for_stale_sources_only(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=5)
    warehouse.dbt("parse", "--quiet")
    now = utc_now().replace(microsecond=0)
    for table in WEB_TABLES:
        # A loader that just delivered: the latest web events arrived now.
        warehouse.execute(
            f"update raw.{table} set received_at = ? where id = (select max(id) from raw.{table})", (now,)
        )
    with environment(warehouse.env):
        outcomes = check_sources(warehouse.target)
    by_source = {outcome.source: outcome for outcome in outcomes.values()}
    assert {name for name, outcome in by_source.items() if not outcome.is_stale} == {
        f"segment.{table}" for table in WEB_TABLES
    }
    # Data generated with the fixed end date ends months ago: every other source is past its error_after.
    assert by_source["crm.crm_contacts"].status == "error"
    assert "hours ago" in by_source["crm.crm_contacts"].detail
    gate = FreshnessGate(outcomes, ROOT)
    assert gate.reason("stg_segment__tracks") is None
    reason = gate.reason("sync_hubspot__contacts")
    assert reason is not None and "crm.crm_contacts" in reason and "segment.tracks" not in reason


def test_demo_data_dated_now_is_fresh_and_holds_back_no_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cdp generate` without --end-date (what `cdp demo` runs) dates the data up to now, at the demo's size."""
    warehouse = new_duckdb_warehouse(tmp_path)
    for key, value in warehouse.env.items():
        monkeypatch.setenv(key, value)
    generated = CliRunner().invoke(cli, ["generate", "--people", "2000"])
    assert generated.exit_code == 0, generated.output
    latest = warehouse.scalar("select max(received_at) from raw.tracks")
    assert utc_now() - timedelta(hours=1) < latest <= utc_now() and "events up to" in generated.output
    warehouse.dbt("parse", "--quiet")
    with environment(warehouse.env):
        outcomes = check_sources(warehouse.target)
    # Every generated table but order_items (whose freshness is its order's) is checked.
    assert {outcome.source.split(".")[1] for outcome in outcomes.values()} == set(RAW_TABLES) - {
        "order_items"
    }
    assert {outcome.source: outcome.status for outcome in outcomes.values() if outcome.status != "pass"} == {}
    # What `cdp build --check-freshness` asks before each sync: no sync of the project is held back.
    gate = FreshnessGate(outcomes, ROOT)
    with environment(warehouse.env):
        syncs = project_syncs(warehouse.target, parse="if-missing")
    assert syncs and {name: gate.reason(s.model) for name, s in syncs.items() if gate.reason(s.model)} == {}


def test_an_end_date_gives_the_reproducible_tables_and_dated_now_only_moves_them(tmp_path: Path) -> None:
    fixed = build_in_memory(60, 42)
    later = build_in_memory(60, 42, end_at=FIXED_END + timedelta(days=150, hours=7))
    capped = build_in_memory(
        60, 42, end_at=FIXED_END + timedelta(days=150, hours=7), received_by=FIXED_END + timedelta(days=150)
    )
    query = "select id, timestamp, received_at from gen_tracks order by id"
    shift = timedelta(days=150, hours=7)
    fixed_rows, later_rows = fixed.execute(query).fetchall(), later.execute(query).fetchall()
    assert len(fixed_rows) == len(later_rows) > 0
    assert [(i, t + shift, r + shift) for i, t, r in fixed_rows] == later_rows
    assert max(row[1] for row in fixed_rows) == FIXED_END
    # Late events never arrive after received_by: no row is loaded in the future.
    capped_rows = capped.execute(query).fetchall()
    assert max(row[2] for row in capped_rows) == FIXED_END + timedelta(days=150)
    assert max(row[2] for row in later_rows) > FIXED_END + timedelta(days=150)
    # The CLI's --end-date gives the fixed tables: 23:00 UTC of that day, loads not capped.
    assert generated_dates(datetime(2026, 6, 30)) == (FIXED_END, None)
