"""The audience builder in a real browser (system Chromium through Playwright), the whole way from a rule to a
destination: an operator builds a rule with an OR group and an event condition, sees the live preview equal a
SQL count of the same rule, saves it, sees the YAML written into the project, builds the segment from the page,
attaches a sync to the sandbox webhook (which rejects a share of the records), runs it from the sync page, sees
the run with its counts and a rejected row with its error, and the alert arrives on a local webhook. One app
over a copy of the session's built demo warehouse and a copy of the project's files; screenshots go where
test_web_browser puts them."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_web_browser import browser, new_page, shot  # noqa: F401 - the module's Chromium fixture
from web_server import AlertReceiver, start_app

from conftest import ROOT, Warehouse
from reverse_etl.alerts import Alerts, AlertSettings
from reverse_etl.project import target_dir
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.service import project_syncs
from reverse_etl.web.auth import AuthSettings, User, hash_password

SKIPPED = shutil.ignore_patterns(".*", "target", "logs", "tests", "bench", "docs", "*.duckdb*", "__pycache__")
RULE_SQL = """
    with as_of as (select max(as_of_at) as as_of_at from marts.customer_traits),
    carts as (
        select customer_id from marts.events, as_of where event_name = 'Product Added'
        and occurred_at > as_of.as_of_at - interval '60 days' and occurred_at <= as_of.as_of_at
        group by customer_id having count(*) >= 1
    )
    select count(*) from marts.customer_traits as traits
    left join marts.customers as customers on traits.customer_id = customers.customer_id
    where traits.has_email_consent
      and (customers.city in ('Springfield', 'Salem') or traits.customer_id in (select customer_id from carts))
"""


@pytest.fixture(scope="module")
def app(built_duckdb: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app over copies of the project and of the built warehouse, its syncs read from the session build's
    manifest (no parse of its own); the sandbox webhook rejects about a fifth of the records; alerts go to a
    local receiver through CDP_ALERT_WEBHOOK_URL."""
    folder = tmp_path_factory.mktemp("audience_browser")
    shutil.copy(built_duckdb.target.path, folder / "cdp.duckdb")
    project = folder / "project"
    shutil.copytree(ROOT, project, ignore=SKIPPED)
    target_dir(project).mkdir(parents=True)
    for kept in ("manifest.json", "partial_parse.msgpack"):  # dbt then parses only what the test changes
        shutil.copy(target_dir(ROOT) / kept, target_dir(project))
    warehouse = Warehouse("duckdb", {"CDP_DUCKDB_PATH": str(folder / "cdp.duckdb")})
    service = WebhookFake(Faults(seed=7, record_reject_rate=0.2), token="audience-browser-sink-token")
    receiver = AlertReceiver()
    monkeypatch = pytest.MonkeyPatch()
    with FakeServer(service) as sink:
        for key, value in {
            **service.environment(sink.url),
            "CDP_PROJECT_DIR": str(project),
            "CDP_DUCKDB_PATH": str(folder / "cdp.duckdb"),
            "CDP_RUN_REQUESTS_DIR": str(folder / "requests"),
            "CDP_ALERT_WEBHOOK_URL": receiver.url,
        }.items():
            monkeypatch.setenv(key, value)
        auth = AuthSettings(users={"olivia": User("olivia", "operator", hash_password("operator password"))})
        syncs = project_syncs(warehouse.target, project, parse="if-missing")
        server = start_app(
            warehouse.target, syncs, auth=auth, alerts=Alerts(AlertSettings.from_environment())
        )
        try:
            yield {
                "url": server.url,
                "warehouse": warehouse,
                "project": project,
                "service": service,
                "receiver": receiver,
            }
        finally:
            server.stop()
            receiver.close()
            monkeypatch.undo()


def wait_for(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.2)


def test_an_operator_builds_an_audience_and_activates_it_to_the_sandbox(browser, app: dict) -> None:  # noqa: F811
    url, project = app["url"], Path(app["project"])
    page = new_page(browser, url, "olivia", "operator password")
    page.goto(f"{url}/audiences/new")
    page.wait_for_selector("#audience-builder[data-ready=yes]")
    top = "#ab-rule > .ab-group"
    page.select_option(f"{top} > .ab-condition .ab-type", "consent")
    page.select_option(f"{top} > .ab-condition .ab-consent", "email")
    page.click(f"{top} > .ab-group-head .ab-add-group")
    inner = f"{top} > .ab-group"
    page.select_option(f"{inner} > .ab-group-head .ab-group-kind", "any")
    page.click(f"{inner} > .ab-group-head .ab-add-condition")
    page.select_option(f"{inner} > .ab-condition .ab-field", "city")
    page.select_option(f"{inner} > .ab-condition .ab-op", "in")
    page.fill(f"{inner} > .ab-condition .ab-value", "Springfield, Salem")
    page.click(f"{inner} > .ab-group-head .ab-add-condition")
    event = f"{inner} > .ab-condition >> nth=1"
    page.select_option(f"{event} >> .ab-type", "event")
    page.fill(f"{inner} > .ab-condition >> nth=1 >> .ab-event", "Product Added")
    page.fill(f"{inner} > .ab-condition >> nth=1 >> .ab-days", "60")

    expected = app["warehouse"].scalar(RULE_SQL)
    assert expected > 10
    wait_for(lambda: page.inner_text("#preview-customers") == str(expected))
    assert page.inner_text("#preview-error") == ""
    assert page.inner_text("#preview-consented-email") == str(expected)

    page.fill("#ab-name", "local_or_cart")
    page.fill(
        "#ab-description", "Email-consented customers in Springfield or Salem, or who added to a cart lately."
    )
    page.click("#ab-save")
    page.wait_for_selector("#ab-yaml:not([hidden])")
    shown = page.inner_text("#ab-yaml")
    saved = project / "models/segments/declared/seg_local_or_cart.yml"
    assert shown.strip() == saved.read_text().strip()
    rule = yaml.safe_load(saved.read_text())["models"][0]["config"]["meta"]["cdp_segment"]["rule"]
    assert rule == {
        "all": [
            {"consent": "email"},
            {
                "any": [
                    {"field": "city", "op": "in", "value": ["Springfield", "Salem"]},
                    {"event": "Product Added", "at_least": 1, "in_last_days": 60},
                ]
            },
        ]
    }
    shot(page, "audience_builder")

    page.click("#ab-build")
    page.wait_for_selector("#ab-build-status[data-state=running]")
    page.wait_for_selector("#ab-build-status:not([data-state=running])", timeout=180_000)
    assert page.inner_text("#ab-build-error") == ""
    assert page.inner_text("#ab-build-status").startswith("built seg_local_or_cart")
    warehouse = app["warehouse"]
    members = {row[0] for row in warehouse.query("select customer_id from segments.seg_local_or_cart")}
    suppressed = {row[0] for row in warehouse.query("select customer_id from privacy.suppressed_customers")}
    by_rule = {
        row[0] for row in warehouse.query(RULE_SQL.replace("select count(*)", "select traits.customer_id"))
    }
    assert len(by_rule) == expected and members == by_rule - suppressed

    page.select_option("#ab-destination", "webhook")
    page.fill("#ab-sync-name", "local_or_cart_to_webhook")
    page.click("#ab-attach")
    page.wait_for_selector("#ab-sync-yaml:not([hidden])", timeout=60_000)
    assert page.inner_text("#ab-attach-error") == ""
    sync_yaml = page.inner_text("#ab-sync-yaml")
    assert "model: seg_local_or_cart" in sync_yaml and "${CDP_WEBHOOK_URL}" in sync_yaml
    assert (project / "models/activation/declared/local_or_cart_to_webhook.yml").is_file()
    page.locator("#ab-attach-form").scroll_into_view_if_needed()
    shot(page, "audience_activate")

    page.click("#ab-sync-link")
    page.wait_for_url(f"{url}/syncs/local_or_cart_to_webhook")
    page.click("#run-now")
    page.wait_for_url(f"{url}/syncs/local_or_cart_to_webhook?started=1")

    def run_shown() -> bool:
        page.reload()
        return "partial" in page.inner_text("#runs")

    wait_for(run_shown, seconds=60)
    service, receiver = app["service"], app["receiver"]
    assert set(service.records) < members
    rejected = len(members) - len(service.records)
    row = page.inner_text("#runs tr:nth-child(2)")
    assert "partial" in row and f"\t{len(members)}\t" in row and f"\t{rejected}\t" in row
    assert page.inner_text("#rejects tr:nth-child(2)").endswith("invalid record (rejected by the sandbox)")
    assert f"Rejected rows ({rejected})" in page.inner_text("body")
    shot(page, "audience_sync")
    wait_for(lambda: len(receiver.received) == 1)
    assert receiver.received[0]["text"].startswith(
        "cdp sync local_or_cart_to_webhook rejected more rows than allowed"
    )
