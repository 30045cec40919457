"""dbt's partial-parse file is kept per warehouse, so switching warehouses does not cost a full parse."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import ROOT, environment
from reverse_etl.dbt import run_dbt
from reverse_etl.parse_cache import KEEP_AT_MOST, PARSE_FILE, kept_per_warehouse, warehouse_key


def test_each_warehouse_gets_back_the_parse_it_left(tmp_path: Path) -> None:
    live = tmp_path / PARSE_FILE
    with kept_per_warehouse(tmp_path, "a"):
        live.write_text("parsed for a")
    with kept_per_warehouse(tmp_path, "b"):
        assert live.read_text() == "parsed for a"  # nothing kept for b yet: dbt checks and parses again
        live.write_text("parsed for b")
    with kept_per_warehouse(tmp_path, "a"):
        assert live.read_text() == "parsed for a"
    with kept_per_warehouse(tmp_path, "b"):
        assert live.read_text() == "parsed for b"


def test_only_the_newest_parses_are_kept(tmp_path: Path) -> None:
    for number in range(KEEP_AT_MOST + 3):
        with kept_per_warehouse(tmp_path, f"w{number}"):
            (tmp_path / PARSE_FILE).write_text(str(number))
    kept = list((tmp_path / "partial_parse_by_warehouse").glob("*.msgpack"))
    assert len(kept) == KEEP_AT_MOST


def test_vars_and_connection_name_the_parse_but_other_arguments_do_not() -> None:
    a = warehouse_key("duckdb file a.duckdb", ["build", "--select", "x"])
    assert a == warehouse_key("duckdb file a.duckdb", ["run"])
    assert a != warehouse_key("duckdb file b.duckdb", ["run"])
    assert a != warehouse_key("duckdb file a.duckdb", ["run", "--vars", "{cdp_matching: false}"])


def test_switching_back_to_a_warehouse_parses_only_what_changed(tmp_path: Path) -> None:
    log = ROOT / os.environ.get("DBT_LOG_PATH", "logs") / "dbt.log"

    def parse_for(name: str) -> str:
        start = log.stat().st_size if log.is_file() else 0
        with environment({"CDP_TARGET": "duckdb", "CDP_DUCKDB_PATH": str(tmp_path / f"{name}.duckdb")}):
            run_dbt(["parse"], target="duckdb", root=ROOT)
        with log.open(errors="replace") as text:
            text.seek(start)
            return text.read()

    parse_for("first")
    assert "profile has changed" in parse_for("second")
    assert "Unable to do partial parsing" not in parse_for("first")
