"""Starting the profile API: which sync's store it reads, its routes in the app of `cdp serve`, and a
refusal (not a traceback, not a start without auth) when no token is configured."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from test_profiles_demo import free_port

from conftest import new_duckdb_warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.errors import ConfigError
from reverse_etl.profiles.serving import profile_sync
from reverse_etl.profiles.settings import StoreSettings
from reverse_etl.profiles.store import Profile
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.web import AppServer, make_app
from reverse_etl.web.app import profile_routes
from reverse_etl.web.auth import AuthSettings
from reverse_etl.web.context import WebContext
from reverse_etl.web.security import access_for

TOKEN = "serving-token-0123456789"
APP_TOKEN = "app-operator-token-0123456789"


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


def test_cdp_serve_answers_the_api_on_the_apps_port_when_a_profile_sync_is_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "profiles.sqlite"
    store = StoreSettings.parse({"path": str(path)}).open()
    store.apply([Profile("cus_1", {"first_name": "Ada"}, {"email": ["ada@example.net"]}, {})], [])
    store.close()
    syncs = {"profiles": declared("profiles", path=str(path))}
    monkeypatch.setenv("CDP_PROFILE_TOKENS", f"{TOKEN}:profiles.read")
    routes, close, problem = profile_routes(syncs)
    assert problem is None and close is not None
    app = make_app(
        WebContext(new_duckdb_warehouse(tmp_path).target, syncs, None, AuthSettings(token=APP_TOKEN)),  # type: ignore[arg-type]
        access_for("127.0.0.1", AuthSettings()),
        routes,
        close,
    )
    server = AppServer(app).start()
    try:
        url = f"{server.url}/api/v1/profiles/email/ADA@example.net"
        answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert answer.status_code == 200 and answer.json()["profile"] == {"first_name": "Ada"}
        assert requests.get(url, timeout=5).status_code == 401
        refused = requests.get(url, headers={"Authorization": f"Bearer {APP_TOKEN}"}, timeout=5)
        assert refused.status_code == 401, "the app's operator token is not a profile API token"
        assert requests.get(f"{server.url}/api/v1/status", timeout=5).status_code == 401
    finally:
        server.stop()


def test_without_tokens_cdp_serve_runs_without_the_api_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDP_PROFILE_TOKENS", raising=False)
    syncs = {"profiles": declared("profiles", path=str(tmp_path / "p.sqlite"))}
    routes, close, problem = profile_routes(syncs)
    assert routes == [] and close is None and "CDP_PROFILE_TOKENS is not set" in str(problem)
    assert profile_routes({"w": declared("w", "webhook")}) == ([], None, None)


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
