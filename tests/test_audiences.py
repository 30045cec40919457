"""The audience builder's definitions: one renderer (the segment macros) for the dbt model, the validator and
the live preview; saved segments and attached syncs are validated files written atomically."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.testclient import TestClient

from conftest import ROOT, Warehouse
from reverse_etl.audiences.definitions import load_project, render_rule, validate_segments
from reverse_etl.audiences.fields import available_fields
from reverse_etl.audiences.preview import preview
from reverse_etl.audiences.routes import audience_router
from reverse_etl.audiences.store import attach_sync, save_segment
from reverse_etl.cli import cli
from reverse_etl.errors import ConfigError
from reverse_etl.project import Target, load_target, target_dir
from reverse_etl.warehouse import Warehouse as SyncWarehouse

# The project's saved example (models/segments/declared/seg_engaged_shoppers.yml), written by hand in SQL.
ENGAGED_SQL = """
    with as_of as (select max(as_of_at) as as_of_at from marts.customer_traits),
    viewers as (
        select customer_id from marts.events, as_of
        where event_name = 'Product Viewed'
          and occurred_at > as_of.as_of_at - interval '30 days' and occurred_at <= as_of.as_of_at
        group by customer_id having count(*) >= 3
    )
    select traits.customer_id, traits.has_sms_consent from marts.customer_traits as traits
    where traits.has_email_consent
      and (traits.orders >= 2 or traits.customer_id in (select customer_id from viewers))
      and not (coalesce(traits.is_unsubscribed, false) or coalesce(traits.has_bounced, false))
"""
OR_AND_EVENT: dict[str, Any] = {
    "rule": {
        "any": [
            {"field": "city", "op": "in", "value": ["Springfield", "Salem"]},
            {"event": "Product Added", "at_least": 1, "in_last_days": 60},
        ]
    }
}


def test_saved_segment_model_members_and_preview_match_the_rule_in_sql(built_warehouse: Warehouse) -> None:
    rows = built_warehouse.query(ENGAGED_SQL)
    expected = {row[0] for row in rows}
    suppressed = {
        row[0] for row in built_warehouse.query("select customer_id from privacy.suppressed_customers")
    }
    declared = {
        row[0]
        for row in built_warehouse.query(
            "select customer_id from segments.seg_declared where segment_name = 'engaged_shoppers'"
        )
    }
    model = {row[0] for row in built_warehouse.query("select customer_id from segments.seg_engaged_shoppers")}
    assert declared == expected and len(expected) > 10
    assert model == expected - suppressed
    definition = load_project(ROOT).segments["engaged_shoppers"]
    counts = preview(SyncWarehouse(built_warehouse.target), ROOT, definition)["counts"]
    assert counts["customers"] == len(expected)
    assert counts["suppressed"] == len(expected & suppressed)
    sms = sum(1 for row in rows if row[1])
    assert counts["sms_consented"] == sms
    assert counts["email_consented"] == len(expected)


def test_preview_of_an_or_group_with_an_event_equals_its_sql_count(built_warehouse: Warehouse) -> None:
    counted = built_warehouse.scalar(
        "with as_of as (select max(as_of_at) as as_of_at from marts.customer_traits), "
        "carts as (select customer_id from marts.events, as_of where event_name = 'Product Added' "
        "  and occurred_at > as_of.as_of_at - interval '60 days' and occurred_at <= as_of.as_of_at) "
        "select count(*) from marts.customer_traits as traits "
        "left join marts.customers as customers on traits.customer_id = customers.customer_id "
        "where customers.city in ('Springfield', 'Salem') or traits.customer_id in (select customer_id from carts)"
    )
    counts = preview(SyncWarehouse(built_warehouse.target), ROOT, OR_AND_EVENT)["counts"]
    assert counts["customers"] == counted > 10
    bought = built_warehouse.scalar(
        "with as_of as (select max(as_of_at) as as_of_at from marts.customer_traits) "
        "select count(distinct lines.customer_id) from marts.order_lines as lines, as_of "
        "where lines.is_completed and lines.product_category = 'bags' "
        "and lines.ordered_at > as_of.as_of_at - interval '180 days' and lines.ordered_at <= as_of.as_of_at"
    )
    bags = {"rule": {"bought_category": "Bags", "in_last_days": 180}}
    assert preview(SyncWarehouse(built_warehouse.target), ROOT, bags)["counts"]["customers"] == bought > 10
    answer = client(ROOT, SyncWarehouse(built_warehouse.target)).post(
        "/api/v1/audiences/preview", json={"definition": OR_AND_EVENT}
    )
    assert answer.status_code == 200 and answer.json()["counts"] == counts


def project_copy(tmp_path: Path) -> Path:
    for folder in ("macros/segments", "models/marts", "models/segments/declared", "models/activation"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ROOT / "dbt_project.yml", tmp_path)
    return tmp_path


BAD = [
    (
        {"rule": {"field": "orders", "op": "in last days", "value": 3}},
        r"\.rule\.op: 'in last days' is not allowed for number field orders",
    ),
    (
        {"rule": {"all": [{"field": "last_order_at", "op": ">", "value": "yesterday"}]}},
        r"\.rule\.all\[0\]\.value: yesterday is not a date",
    ),
    (
        {"rule": {"any": [{"field": "city", "op": "=", "value": 3}]}},
        r"\.rule\.any\[0\]\.value: 3 is not text",
    ),
    ({"rule": {"none": []}}, r"\.rule\.none: a group is"),
    (
        {"rule": {"event": "Product Added", "in_last_days": float("inf")}},
        r"\.rule\.in_last_days: inf is not a whole",
    ),
    (
        {"rule": {"field": "revenue", "op": ">", "value": float("nan")}},
        r"\.rule\.value: nan is not a \(finite\) number",
    ),
    (
        {"rule": {"bought_category": "shoes", "at_least": 2}},
        r"\.rule\.at_least: not a key of a purchase condition",
    ),
    ({"rule": {"event": "Product Added", "at_least": 0}}, r"\.rule\.at_least: 0 is not a whole number"),
    (
        {"rule": {"event": "x'; drop table y; --", "where": "1=1"}},
        r"\.rule\.where: not a key of an event condition",
    ),
    (
        {"rule": {"consent": "fax"}},
        r"\.rule\.consent: 'fax' is not a channel \(known: ads, email, marketing, sms\)",
    ),
    ({"rule": {"segment": "audience"}}, r"\.rule\.segment: 'audience' is not a declared segment"),
    (
        {"rule": {"field": "orders; drop table x", "op": "=", "value": 1}},
        r"\.rule\.field: 'orders; drop table x' is not a column",
    ),
    (
        {"rule": {"field": "orders", "op": "between", "value": [1]}},
        r"\.rule\.value: 'between' needs a list of two values",
    ),
]


@pytest.mark.parametrize(("definition", "message"), BAD)
def test_bad_rules_are_refused_naming_the_field_path(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^segment audience" + message):
        render_rule(load_project(ROOT), "audience", definition)


def test_rules_render_every_operator_kind_and_quote_text() -> None:
    project = load_project(ROOT)
    rule = {
        "all": [
            {"field": "revenue", "op": "between", "value": [10, 99.5]},
            {"field": "last_name", "op": "not in", "value": ["O'Hara"]},
            {"field": "first_seen_at", "op": ">=", "value": "2026-01-31"},
            {"field": "last_order_at", "op": "not in last days", "value": 30},
            {"field": "primary_email", "op": "is empty"},
            {"field": "is_known", "op": "is false"},
            {"segment": "lookalike_seed"},
        ]
    }
    assert render_rule(project, "audience", {"rule": rule}) == (
        "((revenue between 10 and 99.5) and last_name not in ('O''Hara') and "
        "first_seen_at >= cast('2026-01-31' as timestamp) and "
        "not coalesce((last_order_at > as_of_at - interval '30 days' and last_order_at <= as_of_at), false) and "
        "(primary_email is null or primary_email = '') and is_known = false and "
        "(has_ads_consent = true and monetary_score >= 4 and frequency_score >= 3))"
    )


def test_save_validates_then_writes_and_refuses_to_replace_a_different_segment(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    saved = save_segment(root, "local_or_cart", OR_AND_EVENT)
    assert yaml.safe_load(saved["yaml"])["models"][0]["config"]["meta"]["cdp_segment"] == OR_AND_EVENT
    assert (root / saved["yaml_path"]).read_text() == saved["yaml"]
    assert (root / saved["sql_path"]).read_text() == "{{ cdp.saved_segment() }}\n"
    assert (root / saved["yaml_path"]).stat().st_mode & 0o777 == 0o644
    assert "local_or_cart" in validate_segments(root)
    assert save_segment(root, "local_or_cart", OR_AND_EVENT)["yaml"] == saved["yaml"]  # same: no-op
    other = {"rule": {"consent": "sms"}}
    with pytest.raises(ConfigError, match="a different segment local_or_cart is saved there; pass overwrite"):
        save_segment(root, "local_or_cart", other)
    assert save_segment(root, "local_or_cart", other, overwrite=True)["where"] == "has_sms_consent = true"
    with pytest.raises(
        ConfigError,
        match=r"^models/segments/declared/seg_broken.yml: models.seg_broken.config.meta.cdp_segment.rule.consent: 'fax'",
    ):
        save_segment(root, "broken", {"rule": {"consent": "fax"}})
    with pytest.raises(ConfigError, match="already declared in dbt_project.yml"):
        save_segment(root, "lookalike_seed", other)
    with pytest.raises(ConfigError, match="refers back to itself"):
        save_segment(root, "loop", {"rule": {"segment": "loop"}})
    assert sorted(path.name for path in (root / "models/segments/declared").iterdir()) == [
        "seg_engaged_shoppers.sql",
        "seg_engaged_shoppers.yml",
        "seg_local_or_cart.sql",
        "seg_local_or_cart.yml",
    ]


def test_a_save_waits_for_another_save_into_the_same_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reverse_etl.audiences import store

    root = project_copy(tmp_path)
    monkeypatch.setattr(store, "LOCK_SECONDS", 0.2)
    with store._project_lock(root), pytest.raises(ConfigError, match="another save into this project"):
        save_segment(root, "local_or_cart", OR_AND_EVENT)
    assert not (root / "models/segments/declared/seg_local_or_cart.yml").exists()
    assert save_segment(root, "local_or_cart", OR_AND_EVENT)["yaml_path"].endswith("seg_local_or_cart.yml")


def test_attach_sync_writes_a_declared_sync_the_sync_parser_accepts(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    written = attach_sync(
        root,
        "engaged_shoppers",
        "engaged_to_webhook",
        "webhook",
        fields={"email": "email"},
        options={"url": "${CDP_WEBHOOK_URL}"},
        schedule="after_dbt",
    )
    exposure = yaml.safe_load((root / written["yaml_path"]).read_text())["exposures"][0]
    assert exposure["depends_on"] == ["ref('seg_engaged_shoppers')"]
    assert exposure["config"]["meta"]["cdp_sync"]["model"] == "seg_engaged_shoppers"
    with pytest.raises(ConfigError, match="unknown destination 'hubspot_v9'"):
        attach_sync(root, "engaged_shoppers", "other", "hubspot_v9")
    with pytest.raises(ConfigError, match="'sometimes' is not a mode"):
        attach_sync(root, "engaged_shoppers", "other", "webhook", mode="sometimes")
    with pytest.raises(ConfigError, match=r"column\(s\) salary not in model seg_engaged_shoppers"):
        attach_sync(root, "engaged_shoppers", "other", "webhook", fields={"pay": "salary"})
    with pytest.raises(
        ConfigError, match="sync name webhook_customers is taken: models/activation/_activation"
    ):
        attach_sync(root, "engaged_shoppers", "webhook_customers", "webhook")
    with pytest.raises(ConfigError, match="segment nope is not saved"):
        attach_sync(root, "nope", "other", "webhook")
    assert not (root / "models/activation/declared/other.yml").exists()


def test_fields_list_kinds_and_operators_from_the_macros() -> None:
    fields = {field["name"]: field for field in available_fields(ROOT)["fields"]}
    assert fields["orders"]["kind"] == "number" and "between" in fields["orders"]["operators"]
    assert fields["city"]["kind"] == "text" and ">" not in fields["city"]["operators"]
    assert (
        fields["last_order_at"]["kind"] == "date" and "in last days" in fields["last_order_at"]["operators"]
    )
    assert fields["is_known"]["kind"] == "boolean"


def client(root: Path, warehouse: SyncWarehouse | None = None, operator: bool = False) -> TestClient:
    def guard(request: Request) -> Response | None:
        return None if operator else JSONResponse({"error": "operators only"}, status_code=403)

    def connect(request: Request) -> SyncWarehouse:
        assert warehouse is not None
        return warehouse

    router = audience_router(lambda request: root, connect, guard)
    app = Starlette(routes=[Mount("/api/v1/audiences", app=router)])
    return TestClient(app)


def test_endpoints_validate_save_behind_the_guard_and_attach(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    viewer, operator = client(root), client(root, operator=True)
    fields = viewer.get("/api/v1/audiences/fields").json()
    assert "email" in fields["channels"] and "engaged_shoppers" in fields["segments"]
    bad = viewer.post(
        "/api/v1/audiences/validate", json={"definition": {"rule": {"any": [{"consent": "fax"}]}}}
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith(
        "segment audience.rule.any[0].consent: 'fax'"
    )
    assert viewer.post("/api/v1/audiences/validate", content=b"{not json").status_code == 400
    body = {"name": "local_or_cart", "definition": OR_AND_EVENT}
    assert viewer.post("/api/v1/audiences/segments", json=body).status_code == 403
    assert not (root / "models/segments/declared/seg_local_or_cart.yml").exists()
    saved = operator.post("/api/v1/audiences/segments", json=body)
    assert saved.status_code == 200 and "cdp_segment:" in saved.json()["yaml"]
    sync = {"segment": "local_or_cart", "sync": "berlin_to_webhook", "destination": "webhook"}
    assert viewer.post("/api/v1/audiences/syncs", json=sync).status_code == 403
    attached = operator.post("/api/v1/audiences/syncs", json=sync)
    assert attached.status_code == 200 and "seg_local_or_cart" in attached.json()["yaml"]


def hand_made_warehouse(tmp_path: Path) -> Path:
    """Five hand-made customers. For the preview test's rule c1-c3 are members (c3 through its event, c2 despite an unknown
    unsubscribe), c4 is excluded as unsubscribed, c5 meets nothing; c2 is suppressed. engaged_shoppers: c1, c2."""
    import duckdb

    path = tmp_path / "preview.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute(
        """
        create schema marts; create schema privacy;
        create table marts.customer_traits as select * from (values
            ('c1', 3, false, false, true, true, false, true, timestamp '2026-06-30'),
            ('c2', 2, null, false, true, false, true, true, timestamp '2026-06-30'),
            ('c3', 0, false, false, false, true, false, true, timestamp '2026-06-30'),
            ('c4', 5, true, false, true, true, true, true, timestamp '2026-06-30'),
            ('c5', 0, false, false, true, true, true, true, timestamp '2026-06-30')
        ) as t(customer_id, orders, is_unsubscribed, has_bounced, has_email_consent, has_sms_consent, has_ads_consent,
               has_marketing_consent, as_of_at);
        create table marts.customers as select 'c' || i as customer_id, 'Salem' as city from range(1, 6) as t(i);
        create table marts.events as select * from (values
            ('c3', 'Product Added', timestamp '2026-06-29'), ('c5', 'Product Added', timestamp '2026-01-01')
        ) as t(customer_id, event_name, occurred_at);
        create table marts.order_lines as select 'c1' as customer_id, 'bags' as product_category,
            true as is_completed, timestamp '2026-06-01' as ordered_at;
        create table privacy.suppressed_customers as select 'c2' as customer_id;
        """
    )
    connection.close()
    return path


def test_preview_counts_consent_suppression_and_null_exclusions_exactly(tmp_path: Path) -> None:
    path = hand_made_warehouse(tmp_path)
    rule = {
        "rule": {
            "all": [
                {
                    "any": [
                        {"field": "orders", "op": ">=", "value": 2},
                        {"event": "Product Added", "in_last_days": 30},
                    ]
                },
                {"none": [{"field": "is_unsubscribed", "op": "is true"}]},
            ]
        }
    }
    warehouse = SyncWarehouse(Target("preview", "duckdb", path=str(path)))
    counts = preview(warehouse, ROOT, rule)["counts"]
    assert counts == {
        "customers": 3,
        "ads_consented": 1,
        "email_consented": 2,
        "marketing_consented": 3,
        "sms_consented": 2,
        "suppressed": 1,
    }
    bags = preview(warehouse, ROOT, {"rule": {"bought_category": "BAGS", "in_last_days": 60}})["counts"]
    assert bags["customers"] == 1


def test_cli_previews_a_declared_segment_and_names_an_unknown_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(hand_made_warehouse(tmp_path)))
    shown = CliRunner().invoke(cli, ["segments", "preview", "engaged_shoppers"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("customers: 2\nads_consented: 1\nemail_consented: 2\n")
    assert "suppressed: 1\n" in shown.output
    unknown = CliRunner().invoke(cli, ["segments", "preview", "nobody"])
    assert isinstance(unknown.exception, ConfigError)
    assert "no declared segment 'nobody' (known: engaged_shoppers, lapsed_email_subscribers" in str(
        unknown.exception
    )


def test_an_attached_segment_builds_and_syncs_to_the_webhook_fake(
    built_duckdb: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Save and attach in a copy of the project, build only the segment's models into a copy of the built
    warehouse, then run the declared sync against the webhook fake: every member arrives, keyed by customer."""
    from reverse_etl.dbt import run_dbt
    from reverse_etl.sandbox.server import FakeServer
    from reverse_etl.sandbox.webhook import WebhookFake
    from reverse_etl.sync.config import load_syncs
    from reverse_etl.sync.runner import run_sync

    project = tmp_path / "project"
    skipped = shutil.ignore_patterns(
        ".*", "target", "logs", "tests", "bench", "docs", "*.duckdb*", "__pycache__"
    )
    shutil.copytree(ROOT, project, ignore=skipped)
    shutil.copy(built_duckdb.target.path, tmp_path / "cdp.duckdb")
    save_segment(project, "local_or_cart", OR_AND_EVENT)
    attach_sync(
        project,
        "local_or_cart",
        "local_or_cart_to_webhook",
        "webhook",
        fields={"email": "email", "first_name": "first_name"},
        options={"url": "${CDP_WEBHOOK_URL}", "token_env": "CDP_WEBHOOK_TOKEN"},
    )
    service = WebhookFake(token="attached-sync-test-token")
    with FakeServer(service) as sink:
        for key, value in service.environment(sink.url).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "cdp.duckdb"))
        run_dbt(["build", "--select", "seg_declared", "seg_local_or_cart"], target="duckdb", root=project)
        sync = load_syncs(target_dir(project) / "manifest.json")["local_or_cart_to_webhook"]
        warehouse = SyncWarehouse(load_target("duckdb", root=project))
        summary = run_sync(warehouse, sync)
        members = {row[0] for row in warehouse.query("select customer_id from segments.seg_local_or_cart")}
        warehouse.close()
    assert len(members) > 10 and summary.confirmed == len(members) and set(service.records) == members
