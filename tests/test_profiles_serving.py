"""Starting the profile API: which sync's store it reads, `cdp serve`'s thread beside the scheduler, and a
refusal (not a traceback, not a start without auth) when no token is configured."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import requests
from test_profiles_demo import free_port

from reverse_etl.destinations.base import Mode
from reverse_etl.errors import ConfigError
from reverse_etl.profiles.serving import profile_sync, serve_in_thread
from reverse_etl.profiles.settings import StoreSettings
from reverse_etl.profiles.store import Profile
from reverse_etl.sync.config import Relation, SyncConfig

TOKEN = "serving-token-0123456789"


def declared(name: str, destination: str = "profile_store", **options: object) -> SyncConfig:
    return SyncConfig(
        name=name,
        model="m",
        relation=Relation(None, "activation", "m"),
        destination=destination,
        mode=Mode.MIRROR,
        primary_key="customer_id",
        options=dict(options),
    )


def test_the_store_read_is_the_only_profile_sync_or_the_one_named() -> None:
    one = {"p": declared("p"), "w": declared("w", "webhook")}
    assert profile_sync(one).name == "p"
    with pytest.raises(ConfigError, match="declared: none"):
        profile_sync({"w": declared("w", "webhook")})
    two = {**one, "q": declared("q")}
    with pytest.raises(ConfigError, match="exactly one"):
        profile_sync(two)
    assert profile_sync(two, "q").name == "q"
    with pytest.raises(ConfigError, match="no profile_store sync named 'x'"):
        profile_sync(two, "x")


def test_cdp_serve_runs_the_api_in_a_thread_when_a_profile_sync_is_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "profiles.sqlite"
    store = StoreSettings.parse({"path": str(path)}).open()
    store.apply([Profile("cus_1", {"first_name": "Ada"}, {"email": ["ada@example.net"]}, {})], [])
    store.close()
    syncs = {"profiles": declared("profiles", path=str(path))}
    monkeypatch.setenv("CDP_PROFILE_TOKENS", f"{TOKEN}:profiles.read")
    port = free_port()
    thread = serve_in_thread(syncs, "127.0.0.1", port)
    assert thread is not None and thread.name == "profile-api"
    url = f"http://127.0.0.1:{port}/api/v1/profiles/email/ADA@example.net"
    for _ in range(100):
        try:
            answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    assert answer.status_code == 200 and answer.json()["profile"] == {"first_name": "Ada"}
    assert requests.get(url, timeout=2).status_code == 401


def test_without_tokens_cdp_serve_runs_without_the_api_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CDP_PROFILE_TOKENS", raising=False)
    syncs = {"profiles": declared("profiles", path=str(tmp_path / "p.sqlite"))}
    with caplog.at_level(logging.WARNING):
        assert serve_in_thread(syncs, "127.0.0.1", free_port()) is None
    assert "CDP_PROFILE_TOKENS is not set" in caplog.text
    assert serve_in_thread({"w": declared("w", "webhook")}, "127.0.0.1", free_port()) is None


def test_cdp_profiles_serve_without_tokens_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from reverse_etl.cli import cli

    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "cdp.duckdb"))
    monkeypatch.delenv("CDP_PROFILE_TOKENS", raising=False)
    result = CliRunner().invoke(cli, ["profiles", "serve", "--port", str(free_port())])
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2
    assert "CDP_PROFILE_TOKENS is not set" in str(result.exception)
    monkeypatch.setenv("CDP_PROFILE_TOKENS", "short:profiles.read")
    refused = CliRunner().invoke(cli, ["profiles", "serve", "--sync", "nope"])
    assert isinstance(refused.exception, ConfigError) and "no profile_store sync named 'nope'" in str(
        refused.exception
    )
