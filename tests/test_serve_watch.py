"""`cdp serve` picks up a sync declared or edited by hand while it runs: the project watch parses the project
again when one of its files changed, swaps the new set into the pages and the scheduler, and keeps the running
set (saying why) when the changed project declares an unusable schedule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_manifest import EXPOSURES, TARGET, copy_project

from reverse_etl.serve import Scheduler
from reverse_etl.serve.watch import ProjectWatch
from reverse_etl.sync.service import project_syncs
from reverse_etl.web.auth import AuthSettings
from reverse_etl.web.context import WebContext


def notices(output: str) -> list[dict]:
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [event for event in events if event["event"] == "notice"]


def test_a_sync_renamed_by_hand_reaches_the_scheduler_and_a_bad_schedule_keeps_the_running_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_project(tmp_path)
    syncs = project_syncs(TARGET, root)
    found = WebContext(TARGET, syncs, Scheduler(TARGET, syncs), AuthSettings())
    watch = ProjectWatch(found, root)
    assert watch.check() is False  # nothing changed: no parse

    exposures = root / EXPOSURES
    exposures.write_text(exposures.read_text().replace("name: webhook_customers", "name: webhook_people", 1))
    assert watch.check() is True
    assert "webhook_people" in found.syncs and "webhook_customers" not in found.syncs
    assert found.scheduler.syncs is found.syncs
    (reloaded,) = notices(capsys.readouterr().out)
    assert reloaded["added"] == ["webhook_people"] and reloaded["removed"] == ["webhook_customers"]

    running = found.syncs
    text = exposures.read_text()
    assert 'schedule: "0 * * * *"' in text
    exposures.write_text(text.replace('schedule: "0 * * * *"', 'schedule: "every hour"', 1))
    assert watch.check() is False
    assert found.syncs is running and found.scheduler.syncs is running
    (refused,) = notices(capsys.readouterr().out)
    assert "not reloaded" in refused["message"] and "every hour" in refused["message"]
    assert watch.check() is False  # reported once per change, not at every check
    assert notices(capsys.readouterr().out) == []
