"""The web app in a real browser (the system's headless Chromium, driven by Playwright): log in, open the
sync page, run a sync against the sandbox, see the run and a rejected row, receive the alert on a local
webhook, be refused without the CSRF token and as a viewer, and walk the segment and identity pages. One app
over a copy of the session's built demo warehouse. Screenshots of the main pages go to a temporary folder, or
to the folder CDP_SCREENSHOTS_DIR names (`CDP_SCREENSHOTS_DIR=docs/app` refreshes the documentation's)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_server import AlertReceiver, start_app, webhook_sync

from conftest import IN_CI, ROOT, Warehouse
from reverse_etl.alerts import Alerts, AlertSettings
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.config import Relation
from reverse_etl.web.auth import AuthSettings, User, hash_password

# A test run leaves the committed screenshots alone unless asked to refresh them.
SCREENSHOTS = ROOT / os.environ.get("CDP_SCREENSHOTS_DIR", tempfile.mkdtemp(prefix="cdp-screenshots-"))
SINK_TOKEN = "browser-test-sink-token-0123"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("CI must have Chromium (Debian package chromium) for the browser test")
        pytest.skip("Chromium is not installed here (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def app(built_duckdb: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(built_duckdb.target.path, folder / "cdp.duckdb")
    warehouse = Warehouse("duckdb", {"CDP_DUCKDB_PATH": str(folder / "cdp.duckdb")})
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CDP_RUN_REQUESTS_DIR", str(folder / "requests"))
    monkeypatch.setenv("BROWSER_TEST_SINK_TOKEN", SINK_TOKEN)
    service = WebhookFake(Faults(seed=5, record_reject_rate=0.2), token=SINK_TOKEN)
    receiver = AlertReceiver()
    with FakeServer(service) as sink:
        sync = webhook_sync(
            "customers_to_webhook",
            Relation(None, "marts", "customers"),
            "customer_id",
            {"email": "primary_email", "city": "city"},
            sink.url,
            "BROWSER_TEST_SINK_TOKEN",
            100,
            schedule="0 6 * * *",
        )
        auth = AuthSettings(
            users={
                "olivia": User("olivia", "operator", hash_password("operator password")),
                "victor": User("victor", "viewer", hash_password("viewer password")),
            }
        )
        alerts = Alerts(AlertSettings(webhook_url=receiver.url, reject_share=0.05))
        server = start_app(warehouse.target, {sync.name: sync}, auth=auth, alerts=alerts)
        try:
            yield {"url": server.url, "warehouse": warehouse, "service": service, "receiver": receiver}
        finally:
            server.stop()
            receiver.close()
            monkeypatch.undo()


def new_page(browser, url: str, username: str, password: str):
    page = browser.new_context(viewport={"width": 1100, "height": 720}).new_page()
    page.goto(f"{url}/syncs")
    assert page.url == f"{url}/login?next=/syncs"
    page.fill("#password-login input[name=username]", username)
    page.fill("#password-login input[name=password]", password)
    page.click("#password-login button")
    page.wait_for_url(f"{url}/syncs")
    return page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_an_operator_runs_a_sync_and_sees_the_run_the_rejects_and_the_alert(browser, app: dict) -> None:
    url, service, receiver = app["url"], app["service"], app["receiver"]
    login = browser.new_context(viewport={"width": 1100, "height": 720}).new_page()
    login.goto(f"{url}/login")
    shot(login, "login")
    page = new_page(browser, url, "olivia", "operator password")
    assert page.inner_text("#user") == "olivia (operator)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 06:00:00", page.inner_text("#sync-list .next-run"))
    shot(page, "syncs")
    page.click("text=customers_to_webhook")
    page.click("#run-now")
    page.wait_for_url(f"{url}/syncs/customers_to_webhook?started=1")
    deadline = time.monotonic() + 60
    while "partial" not in page.inner_text("#runs") and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    customers = app["warehouse"].scalar("select count(*) from marts.customers")
    rejected = customers - len(service.records)
    row = page.inner_text("#runs tr:nth-child(2)")
    assert "partial" in row and f"\t{customers}\t" in row and f"\t{rejected}\t" in row
    assert page.inner_text("#rejects tr:nth-child(2)").endswith("invalid record (rejected by the sandbox)")
    assert f"Rejected rows ({rejected})" in page.inner_text("body")
    requests_shown = page.inner_text("pre.request >> nth=0")
    assert requests_shown.startswith("POST http://127.0.0.1") and "Authorization: ***" in requests_shown
    assert SINK_TOKEN not in page.content()
    shot(page, "sync")
    (alert,) = receiver.wait_for(1)
    assert alert["text"].startswith("cdp sync customers_to_webhook rejected more rows than allowed")

    page.goto(f"{url}/")
    assert "customers_to_webhook" in page.inner_text("#syncs") and "partial" in page.inner_text("#syncs")
    shot(page, "overview")


def test_a_forged_form_and_a_viewer_are_refused(browser, app: dict) -> None:
    url, service = app["url"], app["service"]
    sent = len(service.records)
    operator = new_page(browser, url, "olivia", "operator password")
    operator.goto(f"{url}/syncs/customers_to_webhook")
    operator.eval_on_selector(
        "form[action$='/run'] input[name=csrf_token]", "field => field.value = 'forged'"
    )
    with operator.expect_response(f"{url}/syncs/customers_to_webhook/run") as answer:
        operator.click("#run-now")
    assert answer.value.status == 403 and "CSRF" in operator.inner_text("body")

    viewer = new_page(browser, url, "victor", "viewer password")
    viewer.goto(f"{url}/syncs/customers_to_webhook")
    assert viewer.locator("#run-now").count() == 0 and viewer.is_visible("#read-only")
    csrf = viewer.get_attribute("form[action='/logout'] input[name=csrf_token]", "value")
    refused = viewer.request.post(f"{url}/syncs/customers_to_webhook/run", form={"csrf_token": csrf})
    assert refused.status == 403 and "viewer" in refused.text()
    assert len(service.records) == sent, "nothing was sent by the refused requests"


def test_segment_and_identity_pages(browser, app: dict) -> None:
    url, warehouse = app["url"], app["warehouse"]
    page = new_page(browser, url, "victor", "viewer password")
    page.goto(f"{url}/segments")
    size = warehouse.scalar(
        "select count(*) from segments.segment_memberships where segment_name = 'seg_high_value' and exited_at is null"
    )
    assert f"seg_high_value\t{size}" in page.inner_text("#segments")
    page.click("text=seg_high_value")
    assert page.locator("#size-chart circle.point").count() == 1
    assert page.inner_text("#builds tr:nth-child(2)").split("\t")[1:] == [str(size), "0", str(size)]
    assert page.locator("#traits tr").count() > 2
    shot(page, "segment")

    customer_id, email, raw = warehouse.query(
        "select graph.customer_id, graph.identifier_value, validated.identifier_value_raw "
        "from identity.identity_graph as graph join intermediate.int_identifiers_validated as validated "
        "using (identifier_type, identifier_value) where graph.identifier_type = 'email' "
        "and validated.identifier_value_raw <> graph.identifier_value and graph.customer_id in "
        "(select customer_id from identity.identity_graph group by 1 having count(*) >= 3) "
        "order by 1 limit 1"
    )[0]
    page.goto(f"{url}/identity")
    page.fill("#identity-search input[name=q]", raw)
    page.click("#identity-search button")
    assert f"email:{email}" in page.inner_text("#identity-results")
    bars = page.locator("#cluster-chart rect.bar").count()
    assert bars == warehouse.scalar(
        "select count(distinct size) from (select count(*) as size from identity.identity_graph group by customer_id)"
    )
    shot(page, "identity")
    phone_customer, phone = warehouse.query(
        "select customer_id, identifier_value from identity.identity_graph where identifier_type = 'phone' "
        "and identifier_value like '+1__________' order by 1 limit 1"
    )[0]
    spelled = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"  # a national spelling, normalized to E.164 to match
    page.fill("#identity-search input[name=q]", spelled)
    page.click("#identity-search button")
    assert f"phone:{phone}\t{phone_customer}" in page.inner_text("#identity-results")
    page.goto(f"{url}/identity?q={email}")
    page.click(f"#identity-results a:text('{customer_id}')")
    identifiers = warehouse.query(
        "select identifier_type || ':' || identifier_value from identity.identity_graph where customer_id = ? "
        "order by 1",
        (customer_id,),
    )
    assert page.locator("#identifiers tr").count() == len(identifiers) + 1
    other = next(value for (value,) in identifiers if value != f"email:{email}")
    page.select_option("#explain select[name=a]", f"email:{email}")
    page.select_option("#explain select[name=b]", other)
    page.click("#explain button")
    steps = page.locator("#chain li")
    assert steps.count() >= 1
    assert steps.nth(0).inner_text().startswith(f"email:{email} —")
    assert steps.nth(steps.count() - 1).inner_text().endswith(f"— {other}")
    shot(page, "customer")


def test_screenshots_are_small(app: dict) -> None:
    for path in Path(SCREENSHOTS).glob("*.png"):
        assert path.stat().st_size < 400_000, path
