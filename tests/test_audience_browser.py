"""The audience builder in a real browser (system Chromium through Playwright): an operator builds a rule with
an OR group and an event condition, sees the live preview equal a SQL count of the same rule, saves it, sees
the YAML written into the project, and declares a sync of it. One app over a copy of the session's built demo
warehouse and a copy of the project's files."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_web_browser import browser, new_page, shot  # noqa: F401 - the module's Chromium fixture
from web_server import start_app

from conftest import ROOT, Warehouse
from reverse_etl.web.auth import AuthSettings, User, hash_password

PROJECT_FILES = ("macros/segments", "models/marts", "models/segments/declared")
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
    folder = tmp_path_factory.mktemp("audience_browser")
    shutil.copy(built_duckdb.target.path, folder / "cdp.duckdb")
    project = folder / "project"
    for part in PROJECT_FILES:
        shutil.copytree(ROOT / part, project / part)
    shutil.copy(ROOT / "dbt_project.yml", project)
    warehouse = Warehouse("duckdb", {"CDP_DUCKDB_PATH": str(folder / "cdp.duckdb")})
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CDP_PROJECT_DIR", str(project))
    auth = AuthSettings(users={"olivia": User("olivia", "operator", hash_password("operator password"))})
    server = start_app(warehouse.target, {}, auth=auth)
    try:
        yield {"url": server.url, "warehouse": warehouse, "project": project}
    finally:
        server.stop()
        monkeypatch.undo()


def wait_for(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.2)


def test_an_operator_builds_previews_saves_and_attaches_an_audience(browser, app: dict) -> None:  # noqa: F811
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

    page.select_option("#ab-destination", "webhook")
    page.fill("#ab-sync-name", "local_or_cart_to_webhook")
    page.click("#ab-attach")
    page.wait_for_selector("#ab-sync-yaml:not([hidden])")
    assert "model: seg_local_or_cart" in page.inner_text("#ab-sync-yaml")
    assert (project / "models/activation/declared/local_or_cart_to_webhook.yml").is_file()
