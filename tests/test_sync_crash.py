"""Crash safety: kill -9 the sync process at random points of a 20k-row sync, rerun each time; the
destination ends equal to the model with no record created twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, new_duckdb_warehouse
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sandbox.webhook import WebhookFake

ROWS = 20_000
KILLS = 10


def start_worker(database: str, url: str, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "sync_worker.py"), database, url],
        env={**os.environ, "TEST_WEBHOOK_TOKEN": token, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_kill_nine_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.people as select 'key_' || n as person_key, 'p' || n || '@example.org' as email, "
        f"n as score from range(1, {ROWS} + 1) as t(n)"
    )
    # A little latency per request, as a real endpoint has, so the kills land mid-sync.
    service = WebhookFake(latency_seconds=0.01)
    chooser = random.Random(2026)
    kills_landed = 0
    with FakeServer(service) as server:
        url = f"{server.url}/records"
        for attempt in range(KILLS):
            # Change the model between crashes too, so later runs have updates and deletes to make.
            if attempt == 4:
                warehouse.execute("update activation.people set score = score + 1 where score % 7 = 0")
            if attempt == 7:
                warehouse.execute("delete from activation.people where score % 11 = 0")
            worker = start_worker(warehouse.target.path, url, service.token)
            # Kill after a random number of batches reached the destination, at a random moment of the next.
            seen = len(service.requests_seen)
            wanted = seen + chooser.randint(1, 3)
            deadline = time.monotonic() + 60
            while (
                len(service.requests_seen) < wanted and worker.poll() is None and time.monotonic() < deadline
            ):
                time.sleep(0.002)
            time.sleep(chooser.uniform(0, 0.03))
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                kills_landed += 1
            worker.wait()
            # The destination finishes what it had received before the next run starts (as it would during
            # any real restart); otherwise a stale request could land after a newer write of the same key.
            time.sleep(0.05)
            service.wait_idle()
        final = start_worker(warehouse.target.path, url, service.token)
        output, _ = final.communicate(timeout=300)
        assert final.returncode == 0, output

    model = {
        key: {"email": email, "score": score}
        for key, email, score in warehouse.query("select person_key, email, score from activation.people")
    }
    assert kills_landed == KILLS, "every kill must land while the sync is running"
    assert service.records == model
    assert max(service.creates.values()) == 1, "no record was created twice"
    assert warehouse.scalar(
        "select count(*) from cdp_sync.snapshots where sync_name = 'crash_people' and status = 'synced'"
    ) == len(model)
    # Each killed run was found cut off by the run after it: none stays "running" forever.
    statuses = dict(
        warehouse.query(
            "select status, count(*) from cdp_sync.runs where sync_name = 'crash_people' group by status"
        )
    )
    assert statuses.get("running") is None
    assert statuses["interrupted"] == KILLS
    errors = warehouse.query("select error from cdp_sync.runs where status = 'interrupted'")
    assert all("ended before the run finished" in error for (error,) in errors)
