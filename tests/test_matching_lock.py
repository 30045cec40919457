"""One `cdp match` per warehouse at a time, between real processes: while one run holds the match lock, a second
is refused with exit code 5 and a message saying so, and changes nothing; two runs started together never
interleave (each finishes or is refused, and the links are the ones one full run writes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Warehouse, fresh_warehouse
from reverse_etl.generator.load import generate
from reverse_etl.matching.config import load
from reverse_etl.matching.run import run_match

PEOPLE, SEED, SHARE = 150, 31, 0.3
STAGING = ("stg_crm__contacts", "stg_shop__orders", "stg_support__tickets")
LINKS = (
    "select source_table_l, record_id_l, source_table_r, record_id_r, match_probability, fired_levels "
    "from matching.record_links order by 1, 2, 3, 4"
)
# Holds the match lock of the warehouse named by the environment until a line comes on stdin.
HOLDER = """
import sys
from reverse_etl.matching.run import match_lock
from reverse_etl.project import load_target
from reverse_etl.warehouse import Warehouse

warehouse = Warehouse(load_target())
with match_lock(warehouse):
    print("held", flush=True)
    sys.stdin.readline()
warehouse.close()
"""


def matching_project(folder: Path) -> Path:
    """The project's configuration with fuzzy matching on (what `cdp match` reads: dbt_project.yml, the
    profiles and the model file)."""
    text = (ROOT / "dbt_project.yml").read_text()
    switched = text.replace("  cdp_matching:\n    enabled: false", "  cdp_matching:\n    enabled: true")
    assert switched != text, "dbt_project.yml: vars.cdp_matching.enabled not found"
    (folder / "dbt_project.yml").write_text(switched)
    shutil.copy(ROOT / "profiles.yml", folder / "profiles.yml")
    (folder / "matching").mkdir()
    shutil.copy(ROOT / "matching" / "model.json", folder / "matching" / "model.json")
    return folder


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def matched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    warehouse = fresh_warehouse(request.param, request, tmp_path_factory.mktemp("match_lock"), "cdp_lock")
    generate(warehouse.target, people=PEOPLE, seed=SEED, offline_share=SHARE)
    warehouse.dbt("seed")
    warehouse.dbt("run", "--select", *STAGING)
    project = matching_project(tmp_path_factory.mktemp("match_project"))
    env = {**os.environ, **warehouse.env, "CDP_PROJECT_DIR": str(project), "PYTHONPATH": str(ROOT)}
    return {"warehouse": warehouse, "env": env, "project": project}


def cdp_match(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "cdp"), "match", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def links(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return [(*row[:4], round(row[4], 9), row[5]) for row in warehouse.query(LINKS)]


def test_a_second_run_is_refused_while_one_holds_the_lock(matched: dict[str, Any]) -> None:
    warehouse: Warehouse = matched["warehouse"]
    first = cdp_match(matched["env"], "--full")
    _, error = first.communicate(timeout=300)
    assert first.returncode == 0, error
    before = links(warehouse)
    assert before, "the generated offline records give links"
    warehouse.execute("delete from raw.crm_contacts where contact_id in (select contact_id from raw.crm_contacts "
                      "where contact_id like '%\\_o' escape '\\' order by contact_id limit 3)")  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=matched["env"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = cdp_match(matched["env"])
        _, error = second.communicate(timeout=300)
        assert second.returncode == 5, error
        assert "cdp match is already running on this warehouse" in error
        assert "Traceback" not in error
        assert links(warehouse) == before, "a refused run changes nothing"
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    third = cdp_match(matched["env"])
    output, error = third.communicate(timeout=300)
    assert third.returncode == 0, error
    assert "an incremental run" in output
    assert links(warehouse) != before, "once the lock is free the removed records' links go"


def test_two_runs_started_together_never_interleave(matched: dict[str, Any]) -> None:
    warehouse: Warehouse = matched["warehouse"]
    mark = "%s" if warehouse.kind == "postgres" else "?"
    for contact in [row[0] for row in warehouse.query(
        "select contact_id from raw.crm_contacts where contact_id like '%\\_o' escape '\\' order by contact_id "
        "limit 4"
    )]:  # fmt: skip
        warehouse.execute(
            # An update sets the contact's change time (its changed_at: docs/identity.md, Incremental runs).
            "update raw.crm_contacts set first_name = first_name || 'a', updated_at = updated_at + interval '1 hour' "
            f"where contact_id = {mark}",
            (contact,),
        )
    runs = [cdp_match(matched["env"]), cdp_match(matched["env"])]
    outcomes = [(run.communicate(timeout=300)[1], run.returncode) for run in runs]
    codes = sorted(code for _, code in outcomes)
    assert codes in ([0, 0], [0, 5]), outcomes
    for error, code in outcomes:
        if code == 5:
            assert "cdp match is already running on this warehouse" in error
    together = links(warehouse)
    assert len({row[:4] for row in together}) == len(together), "each pair once"
    run_match(warehouse.target, load(matched["project"]), full=True)
    assert links(warehouse) == together, "the links one full run writes"
