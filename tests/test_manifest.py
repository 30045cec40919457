"""The manifest is parsed again only when the project changed: commands reading the declared syncs answer
from the manifest dbt already wrote while no project file (nor an env_var() they name) changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from reverse_etl.manifest import FINGERPRINT_FILE, current_manifest, fingerprint, manifest_is_current
from reverse_etl.project import Target, target_dir
from reverse_etl.sync.config import load_syncs

TARGET = Target(name="duckdb", type="duckdb", path="unused.duckdb")
EXPOSURES = Path("models") / "activation" / "_activation__models.yml"


def copy_project(folder: Path) -> Path:
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("models", "macros", "seeds", "data-tests"):
        shutil.copytree(ROOT / name, folder / name)
    return folder


def test_fingerprint_follows_file_contents_target_and_named_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path)
    before = fingerprint(TARGET, root)
    assert fingerprint(TARGET, root) == before
    (root / "target").mkdir()
    (root / "target" / "run_results.json").write_text("{}")  # dbt's output is not the project
    (root / "logs").mkdir()
    assert fingerprint(TARGET, root) == before
    assert fingerprint(Target(name="postgres", type="postgres"), root) != before

    model = root / "models" / "marts" / "customers.sql"
    model.write_text(model.read_text() + "\n")
    changed = fingerprint(TARGET, root)
    assert changed != before

    macro = root / "macros" / "cdp_demo_switch.sql"
    macro.write_text("{% macro cdp_demo_switch() %}{{ env_var('CDP_TEST_SWITCH', 'off') }}{% endmacro %}\n")
    monkeypatch.delenv("CDP_TEST_SWITCH", raising=False)
    unset = fingerprint(TARGET, root)
    assert unset != changed
    monkeypatch.setenv("CDP_TEST_SWITCH", "on")
    switched = fingerprint(TARGET, root)
    assert switched != unset
    monkeypatch.setenv("CDP_UNRELATED", "x")  # named by no project file
    assert fingerprint(TARGET, root) == switched


def test_manifest_is_parsed_once_then_again_after_a_change(tmp_path: Path) -> None:
    root = copy_project(tmp_path)
    manifest = current_manifest(TARGET, root)
    assert manifest == target_dir(root) / "manifest.json"
    assert (target_dir(root) / FINGERPRINT_FILE).is_file()
    written = manifest.stat().st_mtime_ns
    declared = load_syncs(manifest)
    assert "webhook_customers" in declared

    assert manifest_is_current(TARGET, root)
    assert current_manifest(TARGET, root).stat().st_mtime_ns == written  # unchanged project: no parse

    exposures = root / EXPOSURES
    text = exposures.read_text()
    assert "name: webhook_customers" in text
    exposures.write_text(text.replace("name: webhook_customers", "name: webhook_people", 1))
    assert not manifest_is_current(TARGET, root)
    reparsed = current_manifest(TARGET, root)
    assert reparsed.stat().st_mtime_ns != written and manifest_is_current(TARGET, root)
    assert "webhook_people" in load_syncs(reparsed) and "webhook_customers" not in load_syncs(reparsed)

    # Another dbt invocation rewrote the manifest (other vars, another target): the stamp no longer vouches for it.
    reparsed.write_text(reparsed.read_text() + " ")
    assert not manifest_is_current(TARGET, root)
