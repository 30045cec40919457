"""Source freshness gates syncs: dbt source freshness on the raw tables, and which models read a stale source."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, environment, new_duckdb_warehouse
from reverse_etl.freshness import FreshnessGate, check_sources
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
    # The generated demo data ends months ago: every other source is past its error_after.
    assert by_source["crm.crm_contacts"].status == "error"
    assert "hours ago" in by_source["crm.crm_contacts"].detail
    gate = FreshnessGate(outcomes, ROOT)
    assert gate.reason("stg_segment__tracks") is None
    reason = gate.reason("sync_hubspot__contacts")
    assert reason is not None and "crm.crm_contacts" in reason and "segment.tracks" not in reason
