"""End to end on the demo warehouse: the project's declared profile_store sync loads the store from the
sync_profiles__customers model, and the profile API, served over HTTP by uvicorn, finds people by an email or
a phone typed any which way; suppressed customers are not there."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from conftest import ROOT, Warehouse, new_duckdb_warehouse
from reverse_etl.profiles.auth import Tokens
from reverse_etl.profiles.serving import make_server, profile_sync
from reverse_etl.project import target_dir
from reverse_etl.sync.config import load_syncs
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

TOKEN = "demo-profile-token-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def messy(email: str) -> str:
    """What a person types: capitals, spaces, a dot in a gmail name and a +tag."""
    local, domain = email.split("@")
    return f"  {local[0].upper()}.{local[1:]}+promo@{domain.upper()} "


@pytest.fixture
def copy(built_duckdb: Warehouse, tmp_path: Path) -> Warehouse:
    """The built demo warehouse, copied: the session's own stays as it was."""
    shutil.copy(built_duckdb.target.path, tmp_path / "cdp.duckdb")
    return new_duckdb_warehouse(tmp_path)


def test_the_declared_sync_loads_the_store_and_the_api_finds_people(copy: Warehouse, tmp_path: Path) -> None:
    declared = profile_sync(load_syncs(target_dir(ROOT) / "manifest.json"))
    assert declared.name == "profile_store_customers" and declared.mode.value == "mirror"
    assert declared.options["backend"] == "sqlite" and declared.forget_from is not None
    sync = replace(declared, options={**declared.options, "path": str(tmp_path / "cdp_profiles.sqlite")})
    engine = SyncWarehouse(copy.target)
    try:
        summary = run_sync(engine, sync)
    finally:
        engine.close()
    model_rows = copy.scalar("select count(*) from activation.sync_profiles__customers")
    assert summary.confirmed == model_rows > 100

    customer_id, emails, phones = copy.query(
        "select customer_id, emails, phones from activation.sync_profiles__customers "
        "where emails like '%gmail.com%' and phones like '[\"+1%' order by customer_id limit 1"
    )[0]
    email, phone = json.loads(emails)[0], json.loads(phones)[0]
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    suppressed = [row[0] for row in copy.query("select customer_id from privacy.suppressed_customers")]
    assert suppressed

    port = free_port()
    server = make_server(sync, "127.0.0.1", port, Tokens.parse(f"{TOKEN}:profiles.read+profiles.identifiers"))
    thread = threading.Thread(target=server.run, daemon=True)  # type: ignore[attr-defined]
    thread.start()
    base = f"http://127.0.0.1:{port}/api/v1/profiles"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for _ in range(100):
            if getattr(server, "started", False):
                break
            time.sleep(0.05)
        by_email = requests.get(f"{base}/email/{messy(email)}", headers=headers, timeout=5)
        assert by_email.status_code == 200, by_email.text
        body = by_email.json()
        assert body["customer_id"] == customer_id and email in body["identifiers"]["email"]
        assert body["freshness"]["dbt_invocation_id"] and body["freshness"]["write_id"]
        by_phone = requests.get(f"{base}/phone/{national}", headers=headers, timeout=5)
        assert by_phone.json()["customer_id"] == customer_id
        assert requests.get(f"{base}/{customer_id}", headers=headers, timeout=5).json() == body
        for forgotten in suppressed[:5]:
            assert requests.get(f"{base}/{forgotten}", headers=headers, timeout=5).status_code == 404
        assert requests.get(f"{base}/{customer_id}", timeout=5).status_code == 401
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
