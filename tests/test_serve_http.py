"""Who may reach the app: loopback unless auth is configured, the token on every request but /healthz and
the login page, the Host header checked against DNS rebinding, and the security headers on every response."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from web_server import start_app

from conftest import ROOT, new_duckdb_warehouse
from reverse_etl.errors import ConfigError
from reverse_etl.web.auth import AuthSettings, auth_from_environment
from reverse_etl.web.security import access_for

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start the app with the given auth (and extra Host names); yields a function (auth, hosts) -> port."""
    target = new_duckdb_warehouse(tmp_path).target
    servers = []

    def start(auth: AuthSettings, allowed_hosts: tuple[str, ...] = ()) -> int:
        server = start_app(target, {}, auth=auth, allowed_hosts=allowed_hosts)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.stop()


def request(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest(method, path, skip_host=True)
    for name, value in {"Host": f"127.0.0.1:{port}", **(headers or {})}.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    return response


def test_a_token_shorter_than_16_characters_is_refused() -> None:
    with pytest.raises(ConfigError, match="CDP_SERVE_TOKEN must be at least 16 characters"):
        auth_from_environment({"CDP_SERVE_TOKEN": "short"})
    assert TOKEN not in repr(auth_from_environment({"CDP_SERVE_TOKEN": TOKEN}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_process(*args: str, folder: Path, token: str | None = None) -> subprocess.Popen[str]:
    environment = {key: value for key, value in os.environ.items() if key != "CDP_SERVE_TOKEN"}
    environment.update(CDP_TARGET="duckdb", CDP_DUCKDB_PATH=str(folder / "cdp.duckdb"))
    if token:
        environment["CDP_SERVE_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "reverse_etl.cli", "serve", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "cdp.example.com"])
def test_serve_refuses_a_non_loopback_host_without_a_token(host: str, tmp_path: Path) -> None:
    process = serve_process("--host", host, "--port", str(free_port()), folder=tmp_path)
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"cdp serve listened on {host} without a token")
    assert process.returncode == 2, stdout + stderr
    assert stderr.strip() == (
        f"error: --host {host} is not a loopback address: configure auth first (CDP_SERVE_TOKEN, or users in "
        "CDP_SERVE_USERS / CDP_SERVE_USERS_FILE), or serve on 127.0.0.1 (the default)"
    )


def test_cdp_serve_with_a_token_asks_for_it_and_never_shows_it(tmp_path: Path) -> None:
    port = free_port()
    process = serve_process("--port", str(port), "--interval", "3600", folder=tmp_path, token=TOKEN)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if request(port, "/healthz").status == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        assert request(port, "/api/status").status == 401
        assert request(port, "/api/status", {"Authorization": f"Bearer {TOKEN}"}).status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "log in, or send Authorization: Bearer $CDP_SERVE_TOKEN" in stdout
    assert TOKEN not in stdout + stderr


def test_with_a_token_every_request_but_healthz_needs_it(serving) -> None:
    port = serving(AuthSettings(token=TOKEN))
    for path in ("/api/status", "/api/v1/status", "/api/nope"):
        refused = request(port, path)
        assert refused.status == 401 and refused.getheader("WWW-Authenticate") == "Bearer"
    for path in ("/", "/syncs", "/identity", "/nope"):
        refused = request(port, path)
        assert refused.status == 303 and refused.getheader("Location") == f"/login?next={path}", path
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert request(port, "/api/status", {"Authorization": wrong}).status == 401, wrong
    assert request(port, "/api/status", {"Authorization": f"Bearer {TOKEN}"}).status == 200
    assert request(port, "/", {"Authorization": f"bearer {TOKEN}"}).status == 200
    assert request(port, "/healthz").status == 200


def test_a_foreign_host_header_is_refused(serving) -> None:
    port = serving(AuthSettings(), ("cdp.internal",))
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example", ""):
        assert request(port, "/", {"Host": host}).status == 421, host
        assert request(port, "/healthz", {"Host": host}).status == 421, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "cdp.internal:443"):
        assert request(port, "/", {"Host": host}).status == 200, host


def test_on_a_wildcard_address_ip_literals_pass_and_names_must_be_listed() -> None:
    access = access_for("0.0.0.0", AuthSettings(token=TOKEN), ["cdp.example.com"])
    assert access.host_allowed("10.1.2.3:8787") and access.host_allowed("[2001:db8::1]:8787")
    assert access.host_allowed("cdp.example.com") and access.host_allowed("localhost:8787")
    assert not access.host_allowed("rebound.attacker.example:8787") and not access.host_allowed(None)


def test_every_response_carries_the_security_headers(serving) -> None:
    port = serving(AuthSettings(token=TOKEN))
    token = {"Authorization": f"Bearer {TOKEN}"}
    responses = {
        "page": request(port, "/", token),
        "healthz": request(port, "/healthz"),
        "unauthorized": request(port, "/"),
        "unauthorized api": request(port, "/api/v1/status"),
        "missing": request(port, "/nope", token),
        "foreign host": request(port, "/", {**token, "Host": "attacker.example"}),
        "post": request(port, "/api/status", token, method="POST"),
        "delete": request(port, "/api/status", token, method="DELETE"),
    }
    assert [response.status for response in responses.values()] == [200, 200, 303, 401, 404, 421, 405, 405]
    for what, response in responses.items():
        assert response.getheader("X-Content-Type-Options") == "nosniff", what
        assert response.getheader("X-Frame-Options") == "DENY", what
        assert response.getheader("Referrer-Policy") == "no-referrer", what
        assert response.getheader("Cache-Control") == "no-store", what
        assert response.getheader("Content-Security-Policy").startswith("default-src 'none'; "), what
        assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy"), what
        assert response.getheader("Server") is None, what


def test_the_pages_need_nothing_the_content_security_policy_forbids(serving) -> None:
    port = serving(AuthSettings())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()
    policy = response.getheader("Content-Security-Policy")
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<style" not in page and "<script" not in page and " style=" not in page
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) == ["/static/app.css"]
    connection.request("GET", "/static/app.css")
    stylesheet = connection.getresponse()
    assert stylesheet.status == 200 and stylesheet.getheader("Content-Type").startswith("text/css")
    assert b"font-family" in stylesheet.read()
