"""The web app over HTTP: password hashes, login, roles, CSRF, "run now" and "retry rejects", the sync page
(runs, rejected rows paged and searchable, the last run's requests with secrets masked), run events on
stdout and alerts posted to a real local webhook, logout revoking the session. The alert rule itself and a
webhook that is slow or down: test_alerts.py."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from web_server import AlertReceiver, start_app, webhook_sync

from conftest import fresh_warehouse, new_duckdb_warehouse
from reverse_etl.alerts import Alerts, AlertSettings
from reverse_etl.errors import ConfigError
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.serve import Scheduler
from reverse_etl.sync.config import Relation
from reverse_etl.web.auth import AuthSettings, User, hash_password, parse_users, password_matches

TOKEN = "operator-token-for-web-tests-0123"
SINK_TOKEN = "webhook-secret-token-never-shown"


def test_passwords_are_kept_only_as_scrypt_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert password_matches("correct horse", stored) and not password_matches("correct hors", stored)
    assert hash_password("correct horse") != stored, "a fresh salt each time"
    with pytest.raises(ConfigError, match="user 'eve' has role 'admin'; use viewer or operator"):
        parse_users(f"eve:admin:{stored}")
    with pytest.raises(ConfigError, match="make one with `cdp hash-password`"):
        parse_users("eve:viewer:plain-text-password")
    assert "scrypt" not in repr(parse_users(f"ann:viewer:{stored}"))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("web")
    warehouse = new_duckdb_warehouse(folder)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.people as select 'key_' || lpad(cast(n as varchar), 3, '0') as person_key, "
        "'p' || n || '@example.org' as email from range(1, 301) as t(n)"
    )
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CDP_RUN_REQUESTS_DIR", str(folder / "requests"))
    monkeypatch.setenv("WEB_TEST_SINK_TOKEN", SINK_TOKEN)
    service = WebhookFake(Faults(seed=3, record_reject_rate=0.2), token=SINK_TOKEN)
    receiver = AlertReceiver()
    with FakeServer(service) as sink:
        sync = webhook_sync(
            "people",
            Relation(None, "activation", "people"),
            "person_key",
            {"email": "email"},
            sink.url,
            "WEB_TEST_SINK_TOKEN",
            100,
            schedule="0 6 * * *",
        )
        auth = AuthSettings(
            users={
                "olivia": User("olivia", "operator", hash_password("operator password")),
                "victor": User("victor", "viewer", hash_password("viewer password")),
            },
            token=TOKEN,
        )
        alerts = Alerts(AlertSettings(webhook_url=receiver.url, reject_share=0.05))
        server = start_app(warehouse.target, {"people": sync}, auth=auth, alerts=alerts)
        try:
            yield {"url": server.url, "service": service, "receiver": receiver}
        finally:
            server.stop()
            receiver.close()
            monkeypatch.undo()


def logged_in(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    answer = session.post(
        f"{url}/login",
        data={"csrf_token": csrf, "username": username, "password": password, "next": "/syncs"},
    )
    assert answer.status_code == 200 and answer.url == f"{url}/syncs", answer.text[:300]
    return session


def page_csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', session.get(url).text)[1]


def wait_for_runs(url: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = requests.get(
            f"{url}/api/v1/syncs/people/runs", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
        if len(document["runs"]) >= count and not document["running"]:
            return document["runs"]
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} runs after 60 s")


def test_login_wall_and_bad_credentials(app: dict) -> None:
    url = app["url"]
    first = requests.get(f"{url}/syncs/people", allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == "/login?next=/syncs/people"
    session = requests.Session()
    csrf = page_csrf(session, f"{url}/login")
    wrong = session.post(f"{url}/login", data={"csrf_token": csrf, "username": "olivia", "password": "guess"})
    assert wrong.status_code == 401 and 'id="login-error"' in wrong.text
    forged = requests.post(f"{url}/login", data={"username": "olivia", "password": "operator password"})
    assert forged.status_code == 403, "a login without the page's CSRF token is refused"
    away = logged_in(url, "olivia", "operator password")
    csrf = page_csrf(away, f"{url}/login")
    redirect = away.post(
        f"{url}/login",
        data={"csrf_token": csrf, "token": TOKEN, "next": "//attacker.example/"},
        allow_redirects=False,
    )
    assert redirect.status_code == 303 and redirect.headers["Location"] == "/"


def test_repeated_failed_logins_are_throttled(tmp_path: Path) -> None:
    stored = hash_password("right one")
    server = start_app(
        new_duckdb_warehouse(tmp_path).target,
        {},
        auth=AuthSettings(users={"ann": User("ann", "operator", stored)}),
    )
    try:
        session = requests.Session()
        csrf = page_csrf(session, f"{server.url}/login")
        answers = [
            session.post(
                f"{server.url}/login", data={"csrf_token": csrf, "username": "ann", "password": f"guess {n}"}
            )
            for n in range(5)
        ]
        assert [answer.status_code for answer in answers] == [401] * 5
        right = session.post(
            f"{server.url}/login", data={"csrf_token": csrf, "username": "ann", "password": "right one"}
        )
        assert right.status_code == 429 and 'id="login-throttled"' in right.text, (
            "even the right password waits"
        )
    finally:
        server.stop()


def test_a_viewer_reads_but_cannot_run(app: dict) -> None:
    url = app["url"]
    viewer = logged_in(url, "victor", "viewer password")
    page = viewer.get(f"{url}/syncs/people")
    assert page.status_code == 200 and 'id="read-only"' in page.text and 'id="run-now"' not in page.text
    nav = re.findall(r"<nav>(.*?)</nav>", page.text, re.DOTALL)[0]
    assert re.findall(r'href="([^"]+)"', nav) == [
        "/",
        "/syncs",
        "/segments",
        "/identity",
        "/audiences/new",
    ], "one link per page area"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    refused = viewer.post(f"{url}/syncs/people/run", data={"csrf_token": csrf}, allow_redirects=False)
    assert refused.status_code == 403 and "viewer" in refused.json()["error"]
    assert not app["service"].records


def test_run_now_shows_runs_rejects_requests_and_alerts(app: dict, capfd: pytest.CaptureFixture[str]) -> None:
    url, service, receiver = app["url"], app["service"], app["receiver"]
    operator = logged_in(url, "olivia", "operator password")
    no_csrf = operator.post(f"{url}/syncs/people/run", allow_redirects=False)
    wrong_csrf = operator.post(
        f"{url}/syncs/people/run", data={"csrf_token": "x" * 43}, allow_redirects=False
    )
    assert no_csrf.status_code == 403 and wrong_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["error"] and not service.records
    before = len(receiver.received)
    started = operator.post(
        f"{url}/syncs/people/run",
        data={"csrf_token": page_csrf(operator, f"{url}/syncs")},
        allow_redirects=False,
    )
    assert started.status_code == 303 and started.headers["Location"] == "/syncs/people?started=1"
    (run,) = wait_for_runs(url, 1)
    rejected = 300 - len(service.records)
    assert (
        run["status"] == "partial"
        and run["confirmed"] == len(service.records)
        and run["rejected"] == rejected
    )
    assert 30 < rejected < 90, "the sandbox rejects about a fifth of the rows"

    page = operator.get(f"{url}/syncs/people").text
    assert f"Rejected rows ({rejected})" in page and "invalid record (rejected by the sandbox)" in page
    assert page.count('<pre class="request">') == 3 and "POST " in page and "/records" in page
    assert SINK_TOKEN not in page and "Authorization: ***" in page
    keys = re.findall(r"<tr><td>(key_\d+)</td>", page)
    assert len(keys) == min(rejected, 25) and keys == sorted(keys)
    searched = operator.get(f"{url}/syncs/people", params={"q": keys[0].upper()}).text
    assert re.findall(r"<tr><td>(key_\d+)</td>", searched) == [keys[0]] and "Rejected rows (1)" in searched
    second = operator.get(f"{url}/syncs/people", params={"page": 2}).text
    assert re.findall(r"<tr><td>(key_\d+)</td>", second) == [] if rejected <= 25 else keys[-1] not in second

    (alert,) = receiver.wait_for(before + 1)[before:]
    assert alert["text"].startswith("cdp sync people rejected more rows than allowed")
    assert f"{rejected} of 300 rows rejected" in alert["text"] and alert["blocks"][0]["type"] == "header"
    events = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    start, end = (event for event in events if event["event"] in {"run_start", "run_end"})
    assert start["sync"] == end["sync"] == "people" and start["trigger"] == "run now"
    assert (end["status"], end["sent"], end["rejected"]) == ("partial", 300, rejected)
    assert any(event["event"] == "alert" and event["kind"] == "rejects" for event in events)
    assert SINK_TOKEN not in json.dumps(events)


def test_the_api_runs_with_the_bearer_token_and_without_csrf(app: dict) -> None:
    url, service = app["url"], app["service"]
    assert requests.post(f"{url}/api/v1/syncs/people/run").status_code == 401
    runs_before = len(wait_for_runs(url, 0))
    answer = requests.post(
        f"{url}/api/v1/syncs/people/run?only_rejected=true", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 202 and answer.json() == {"sync": "people", "started": True}
    runs = wait_for_runs(url, runs_before + 1)
    retried = runs[0]
    assert retried["status"] == "partial" and retried["confirmed"] == 0, "the sandbox rejects them again"
    assert retried["rejected"] == 300 - len(service.records), "a retry sends the rejected rows only"


def test_cdp_hash_password_makes_a_hash_the_users_file_accepts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reverse_etl.cli import cli
    from reverse_etl.web.auth import auth_from_environment

    result = CliRunner().invoke(cli, ["hash-password"], input="s3cret words\ns3cret words\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip().splitlines()[-1]
    assert stored.startswith("scrypt$") and password_matches("s3cret words", stored)
    assert "s3cret words" not in result.output
    users = tmp_path / "users.yml"
    users.write_text(f"users:\n  - {{name: ann, role: operator, password_hash: '{stored}'}}\n")
    auth = auth_from_environment({"CDP_SERVE_USERS_FILE": str(users)})
    assert auth.configured and auth.password_user("ann", "s3cret words") == User("ann", "operator", stored)
    assert auth.password_user("ann", "wrong") is None and auth.password_user("bob", "s3cret words") is None
    users.write_text("users: {ann: operator}\n")
    with pytest.raises(ConfigError, match="users.yml: expected `users:` listing"):
        auth_from_environment({"CDP_SERVE_USERS_FILE": str(users)})


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_pages_read_state_read_only_on_each_warehouse(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = fresh_warehouse(kind, request, tmp_path, "cdp_web")
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.people as select concat('key_', cast(n as varchar(8))) as person_key, "
        "concat('p', cast(n as varchar(8)), '@example.org') as email from "
        + ("range(1, 121) as t(n)" if kind == "duckdb" else "generate_series(1, 120) as t(n)")
    )
    monkeypatch.setenv("CDP_RUN_REQUESTS_DIR", str(tmp_path / "requests"))
    monkeypatch.setenv("WEB_TEST_SINK_TOKEN", SINK_TOKEN)
    service = WebhookFake(Faults(seed=11, record_reject_rate=0.25), token=SINK_TOKEN)
    with FakeServer(service) as sink:
        sync = webhook_sync(
            "fresh",
            Relation(None, "activation", "people"),
            "person_key",
            {"email": "email"},
            sink.url,
            "WEB_TEST_SINK_TOKEN",
            50,
        )
        server = start_app(warehouse.target, {"fresh": sync})
        try:
            page = requests.get(f"{server.url}/syncs/fresh", timeout=10)
            assert page.status_code == 200 and "never ran" in page.text and "Rejected rows (0)" in page.text
            assert "Running syncs needs the operator role" in page.text, "no auth configured: read-only"
            listing = requests.get(f"{server.url}/syncs", timeout=10).text
            assert "fresh" in listing and "manual only" in listing
            refused = requests.post(f"{server.url}/syncs/fresh/run", timeout=10)
            assert refused.status_code == 403 and "configure auth" in refused.json()["error"]
            assert requests.get(f"{server.url}/syncs/nope", timeout=10).status_code == 404
            overview = requests.get(f"{server.url}/", timeout=10)
            assert (
                overview.status_code == 200
                and 'id="no-runs"' in overview.text
                and "/syncs/fresh" in overview.text
            )
            status = requests.get(f"{server.url}/api/v1/status", timeout=10).json()
            (row,) = status["syncs"]
            assert status["sync_state"] is False and (row["synced_rows"], row["last_run_at"]) == (0, None)
            assert Scheduler(warehouse.target, {"fresh": sync}).tick() == [], "nothing is due"
            schemas = "select schema_name from information_schema.schemata where schema_name = 'cdp_sync'"
            assert warehouse.query(schemas) == [], (
                "reading the pages and a scheduler with nothing due created no state"
            )

            Scheduler(warehouse.target, {"fresh": sync}).run_one("fresh")
            rejected = 120 - len(service.records)
            page = requests.get(f"{server.url}/syncs/fresh", timeout=10).text
            assert 10 < rejected < 50 and f"Rejected rows ({rejected})" in page and "partial" in page
            key = re.findall(r"<tr><td>(key_\d+)</td>", page)[0]
            searched = requests.get(f"{server.url}/syncs/fresh", params={"q": key}, timeout=10).text
            found = re.findall(r"<tr><td>(key_\d+)</td>", searched)
            assert key in found and all(key in other for other in found), "the keys that contain the search"
            assert f"Rejected rows ({len(found)})" in searched and len(found) < rejected
            status = requests.get(f"{server.url}/api/v1/status", timeout=10).json()
            assert status["sync_state"] is True and status["syncs"][0]["pending_rejects"] == rejected
            assert 'id="no-runs"' not in requests.get(f"{server.url}/", timeout=10).text
        finally:
            server.stop()


def test_logout_revokes_the_session_on_the_server(app: dict) -> None:
    url = app["url"]
    browser = logged_in(url, "victor", "viewer password")
    copied = requests.Session()
    copied.cookies.update({"cdp_session": browser.cookies["cdp_session"]})
    assert copied.get(f"{url}/syncs", allow_redirects=False).status_code == 200, (
        "the copy works while logged in"
    )
    other = logged_in(url, "olivia", "operator password")
    out = browser.post(
        f"{url}/logout", data={"csrf_token": page_csrf(browser, f"{url}/syncs")}, allow_redirects=False
    )
    assert out.status_code == 303 and out.headers["Location"] == "/login"
    refused = copied.get(f"{url}/syncs", allow_redirects=False)
    assert refused.status_code == 303 and refused.headers["Location"] == "/login?next=/syncs"
    assert copied.get(f"{url}/api/v1/status").status_code == 401
    assert other.get(f"{url}/syncs", allow_redirects=False).status_code == 200, "another user stays logged in"
    again = logged_in(url, "victor", "viewer password")
    assert again.get(f"{url}/syncs", allow_redirects=False).status_code == 200, "a new login after it works"
