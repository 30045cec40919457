"""`cdp build` with one unusable schedule in the project: named with its file and key, the other syncs still
run, and the command exits 2 at the end (before, the second build crashed inside croniter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MODELS_ONLY_ENV, ROOT, new_duckdb_warehouse
from reverse_etl.project import target_dir
from reverse_etl.sandbox.run import running_sandbox
from reverse_etl.sync.config import load_syncs

WEBHOOK_SCHEDULE = '            token_env: CDP_WEBHOOK_TOKEN\n          schedule: "0 * * * *"'
EXPECTED = (
    "models/activation/_activation__models.yml: exposures.webhook_customers.meta.cdp_sync.schedule: "
    "'every hour' is not a cron expression"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """A copy of the dbt project whose webhook sync is scheduled "every hour", with demo data."""
    root = tmp_path_factory.mktemp("bad_schedule")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("models", "macros", "seeds", "data-tests"):
        shutil.copytree(ROOT / folder, root / folder)
    exposures = root / "models" / "activation" / "_activation__models.yml"
    text = exposures.read_text()
    assert text.count(WEBHOOK_SCHEDULE) == 1
    exposures.write_text(
        text.replace(WEBHOOK_SCHEDULE, WEBHOOK_SCHEDULE.replace('"0 * * * *"', '"every hour"'))
    )
    warehouse = new_duckdb_warehouse(root)
    warehouse.generate(people=150, seed=3)
    return root, warehouse


def cdp_build(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reverse_etl.cli", "build"],
        cwd=root,
        # Seeds and models only: the demo build runs the unit and data tests; this test is about the schedules.
        env={**os.environ, **env, **MODELS_ONLY_ENV, "CDP_PROJECT_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_bad_schedule_is_named_and_the_other_syncs_still_run(project) -> None:
    root, warehouse = project
    with running_sandbox():
        first = cdp_build(root, warehouse.env)
        second = cdp_build(root, warehouse.env)
    for build in (first, second):
        assert build.returncode == 2, build.stdout + build.stderr
        assert "Traceback" not in build.stderr and "Croniter" not in build.stderr
        # stderr also carries the runs' JSON events (docs/app.md); the first line for people is the error.
        said = [line for line in build.stderr.splitlines() if not line.startswith('{"event"')]
        assert said[0].startswith(f"error: {EXPECTED}; use five cron fields")
        assert "webhook_customers: skipped (its schedule is unusable)" in build.stdout
        assert "published" in build.stdout and "cdp_bi.duckdb" in build.stdout
    runs = dict(warehouse.query("select sync_name, count(*) from cdp_sync.runs group by sync_name"))
    others = {
        name
        for (name,) in warehouse.query("select distinct sync_name from cdp_sync.runs")
        if name != "webhook_customers"
    }
    declared = set(load_syncs(target_dir(root) / "manifest.json")) - {"webhook_customers"}
    assert "webhook_customers" not in runs
    assert others == declared and all(runs[name] >= 1 for name in others), runs
