"""Who may read the status page: loopback unless a token is set, the token on every request but /healthz,
the Host header checked against DNS rebinding, and the security headers on every response."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import ROOT, new_duckdb_warehouse
from reverse_etl.errors import ConfigError
from reverse_etl.serve import access_for, make_status_server
from reverse_etl.serve.http import Access

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Callable[[Access], int]]:
    """Start a status server with the given access rules; yields a function (access) -> port."""
    target = new_duckdb_warehouse(tmp_path).target
    servers = []

    def start(access: Access) -> int:
        server = make_status_server(target, {}, None, port=0, access=access)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


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
        access_for("127.0.0.1", environ={"CDP_SERVE_TOKEN": "short"})
    assert TOKEN not in repr(access_for("127.0.0.1", environ={"CDP_SERVE_TOKEN": TOKEN}))


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
        f"error: --host {host} is not a loopback address: set CDP_SERVE_TOKEN so every request needs "
        "'Authorization: Bearer <token>', or serve on 127.0.0.1 (the default)"
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
    assert "requests need Authorization: Bearer $CDP_SERVE_TOKEN" in stdout
    assert TOKEN not in stdout + stderr


def test_with_a_token_every_request_but_healthz_needs_it(serving) -> None:
    port = serving(access_for("127.0.0.1", environ={"CDP_SERVE_TOKEN": TOKEN}))
    for path in ("/", "/api/status", "/nope"):
        refused = request(port, path)
        assert refused.status == 401 and refused.getheader("WWW-Authenticate") == "Bearer"
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert request(port, "/api/status", {"Authorization": wrong}).status == 401, wrong
    assert request(port, "/api/status", {"Authorization": f"Bearer {TOKEN}"}).status == 200
    assert request(port, "/", {"Authorization": f"bearer {TOKEN}"}).status == 200
    assert request(port, "/healthz").status == 200


def test_a_foreign_host_header_is_refused(serving) -> None:
    port = serving(access_for("127.0.0.1", ["cdp.internal"], environ={}))
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example", ""):
        assert request(port, "/", {"Host": host}).status == 421, host
        assert request(port, "/healthz", {"Host": host}).status == 421, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "cdp.internal:443"):
        assert request(port, "/", {"Host": host}).status == 200, host


def test_on_a_wildcard_address_ip_literals_pass_and_names_must_be_listed() -> None:
    access = access_for("0.0.0.0", ["cdp.example.com"], environ={"CDP_SERVE_TOKEN": TOKEN})
    assert access.host_allowed("10.1.2.3:8787") and access.host_allowed("[2001:db8::1]:8787")
    assert access.host_allowed("cdp.example.com") and access.host_allowed("localhost:8787")
    assert not access.host_allowed("rebound.attacker.example:8787") and not access.host_allowed(None)


def test_every_response_carries_the_security_headers(serving) -> None:
    port = serving(access_for("127.0.0.1", environ={"CDP_SERVE_TOKEN": TOKEN}))
    token = {"Authorization": f"Bearer {TOKEN}"}
    responses = {
        "page": request(port, "/", token),
        "healthz": request(port, "/healthz"),
        "unauthorized": request(port, "/"),
        "missing": request(port, "/nope", token),
        "foreign host": request(port, "/", {**token, "Host": "attacker.example"}),
        "post": request(port, "/api/status", token, method="POST"),
        "delete": request(port, "/api/status", token, method="DELETE"),
    }
    assert [response.status for response in responses.values()] == [200, 200, 401, 404, 421, 501, 501]
    for what, response in responses.items():
        assert response.getheader("X-Content-Type-Options") == "nosniff", what
        assert response.getheader("X-Frame-Options") == "DENY", what
        assert response.getheader("Referrer-Policy") == "no-referrer", what
        assert response.getheader("Cache-Control") == "no-store", what
        assert response.getheader("Content-Security-Policy").startswith("default-src 'none'; "), what
        assert "Python" not in (response.getheader("Server") or ""), what


def test_the_content_security_policy_allows_exactly_the_pages_style(serving) -> None:
    port = serving(access_for("127.0.0.1", environ={}))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.getheader("Content-Security-Policy")
    assert "<script" not in page
