"""Secrets are never stored, logged or shown: a destination that echoes the credential in its error bodies,
and a token put into a URL through ${NAME}, leave *** in the sync state, the plan and the errors."""

from __future__ import annotations

import base64

import pytest

from conftest import Warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.errors import PartialFailure
from reverse_etl.sandbox.server import FakeServer, HttpError, Request, Response
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.runner import make_destination, run_sync
from reverse_etl.sync.service import history_rows, reject_rows
from reverse_etl.warehouse import Warehouse as SyncWarehouse
from test_sync_engine import make_people, scratch, webhook_sync  # noqa: F401 - fixtures

TOKEN = "tok-3f9a1c77e2b54d08"
URL_SECRET = "sig-9d2e71aa04c3"


class EchoingWebhook(WebhookFake):
    """A vendor that quotes the request's headers back in every per-record error (as some do)."""

    def receive(self, request: Request) -> Response:
        body = request.json()
        header = request.header("authorization") or ""
        encoded = base64.b64encode(header.removeprefix("Bearer ").encode()).decode()
        return Response(
            200,
            {
                "results": [
                    {
                        "key": record["key"],
                        "status": "error",
                        "error": f"bad record; you sent {header} ({encoded})",
                    }
                    for record in body["records"]
                ]
            },
        )


def stored_text(warehouse: Warehouse) -> str:
    parts = []
    for table in ("snapshots", "runs", "rejects"):
        parts += [repr(row) for row in warehouse.query(f"select * from cdp_sync.{table}")]
    return "\n".join(parts)


def test_an_echoed_credential_is_never_stored_or_shown(scratch: Warehouse, monkeypatch) -> None:  # noqa: F811
    service = EchoingWebhook(token=TOKEN)
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", TOKEN)
    make_people(scratch, 5)
    with FakeServer(service) as server:
        sync = webhook_sync(server, mode=Mode.UPSERT)
        engine = SyncWarehouse(scratch.target)
        try:
            with pytest.raises(PartialFailure) as failure:
                run_sync(engine, sync, destination=make_destination(sync))
            assert failure.value.summary.rejected == 5
            shown = [str(row) for row in reject_rows(engine, sync.name)] + [
                str(row) for row in history_rows(engine, sync.name)
            ]
        finally:
            engine.close()
    stored = stored_text(scratch)
    assert "***" in stored
    for secret in (TOKEN, base64.b64encode(TOKEN.encode()).decode()):
        assert secret not in stored
        assert all(secret not in line for line in shown)


class RefusingWebhook(WebhookFake):
    """A vendor that refuses the request and quotes its query string back."""

    def receive(self, request: Request) -> Response:
        raise HttpError(400, {"error": f"unknown parameters {request.query}"})


def test_a_token_in_a_url_is_masked_in_plans_and_errors(scratch: Warehouse, monkeypatch) -> None:  # noqa: F811
    service = RefusingWebhook()
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
    monkeypatch.setenv("TEST_HOOK_SECRET", URL_SECRET)
    make_people(scratch, 5)
    with FakeServer(service) as server:
        options = {
            "url": f"{server.url}/records?sig=${{TEST_HOOK_SECRET}}",
            "token_env": "TEST_WEBHOOK_TOKEN",
        }
        sync = webhook_sync(server, options=options)
        engine = SyncWarehouse(scratch.target)
        try:
            plan = run_sync(engine, sync, dry_run=True, destination=make_destination(sync))
            printed = "\n".join(request.describe() for request in plan.planned_requests)
            assert "sig=***" in printed and URL_SECRET not in printed
            with pytest.raises(PartialFailure) as failure:
                run_sync(engine, sync, destination=make_destination(sync))
            assert failure.value.summary.rejected == 5
            assert URL_SECRET not in str(failure.value)
        finally:
            engine.close()
    stored = stored_text(scratch)
    assert URL_SECRET not in stored
    assert "['***']" in scratch.scalar("select min(error) from cdp_sync.rejects")


def test_the_status_page_masks_a_secret_an_earlier_version_stored(tmp_path, monkeypatch) -> None:
    """State written before errors were masked may still hold a credential: the pages and the API mask it."""
    import requests
    from web_server import start_app

    from conftest import new_duckdb_warehouse
    from reverse_etl.destinations.base import Mode as SyncMode
    from reverse_etl.serve.page import status_document
    from reverse_etl.sync.config import Relation, SyncConfig
    from reverse_etl.sync.state import ensure_state

    monkeypatch.setenv("TEST_STATUS_API_TOKEN", TOKEN)
    warehouse = new_duckdb_warehouse(tmp_path)
    engine = SyncWarehouse(warehouse.target)
    try:
        ensure_state(engine)
    finally:
        engine.close()
    warehouse.execute(
        "insert into cdp_sync.snapshots values ('people', 'k1', null, 'h', 'rejected', 1, ?, null, now())",
        (f"HTTP 400: you sent Bearer {TOKEN}",),
    )
    warehouse.execute(
        "insert into cdp_sync.runs (run_id, sync_name, started_at, status, error) values ('r1', 'people', now(), "
        "'failed', ?)",
        (f"POST https://hooks.example.org/x?token={TOKEN}: HTTP 500",),
    )
    sync = SyncConfig(
        "people", "people", Relation(None, "activation", "people"), "webhook", SyncMode.UPSERT, "k"
    )
    document = status_document(warehouse.target, {"people": sync})
    server = start_app(warehouse.target, {"people": sync})
    try:
        pages = [
            requests.get(f"{server.url}{path}", timeout=10)
            for path in ("/", "/syncs/people", "/api/v1/status")
        ]
    finally:
        server.stop()
    assert all(page.status_code == 200 for page in pages)
    assert "HTTP 400: you sent" in pages[1].text and "hooks.example.org" in pages[1].text
    shown = repr(document) + "".join(page.text for page in pages)
    assert TOKEN not in shown
    # "Bearer <token>" is masked whole once the HTTP layer sent that header; the bare token in any case.
    assert "you sent Bearer ***" in shown or "you sent ***" in shown
    assert "token=***" in shown
