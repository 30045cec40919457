"""HubSpot destination against its local fake: request shape, batch limits, 207 partial failures, the
rolling rate limit, archive for mirror deletes, and auth."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import new_duckdb_warehouse
from match_keys import CHANGED, REMOVED, people
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.hubspot import HubSpotDestination
from reverse_etl.errors import ConfigError, DestinationAuthError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sandbox.hubspot import HubSpotFake
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse


@pytest.fixture
def hubspot():
    service = HubSpotFake()
    with FakeServer(service) as server:
        yield service, server


def destination(
    server: FakeServer, token: str = "sandbox-hubspot-token", client: HttpClient | None = None
) -> HubSpotDestination:
    return HubSpotDestination(
        {"base_url": server.url}, lambda name: token, client or HttpClient(retry=RetryPolicy(base_delay=0.01))
    )


def contacts(count: int, start: int = 0) -> list[Record]:
    return [
        Record(
            key=f"cus_{n}",
            fields={"email": f"person{n}@example.org", "firstname": f"P{n}", "orders": n, "vip": n % 2 == 0},
            operation=Operation.UPSERT,
        )
        for n in range(start, start + count)
    ]


def write_all(target: HubSpotDestination, records: list[Record]) -> BatchResult:
    outcome = BatchResult()
    for start in range(0, len(records), target.capabilities.max_batch_size):
        outcome.results += target.write_batch(
            records[start : start + target.capabilities.max_batch_size]
        ).results
    return outcome


def test_batch_upsert_sends_string_properties_keyed_by_email(hubspot) -> None:
    service, server = hubspot
    records = contacts(250)
    (request,) = destination(server).plan_batch(records[:100])
    assert request.url.endswith("/crm/v3/objects/contacts/batch/upsert")
    assert request.json["inputs"][1] == {
        "idProperty": "email",
        "id": "person1@example.org",
        "properties": {"email": "person1@example.org", "firstname": "P1", "orders": "1", "vip": "false"},
    }
    outcome = write_all(destination(server), records)
    assert len(outcome.confirmed) == 250 and not outcome.rejected
    stored = service.objects["contacts"]
    assert stored["person7@example.org"]["properties"]["orders"] == "7"
    assert {result.destination_id for result in outcome.confirmed} == {
        record["id"] for record in stored.values()
    }


def test_the_fake_refuses_more_than_100_inputs_with_hubspots_error(hubspot) -> None:
    _, server = hubspot
    oversized = destination(server)._upsert_request(contacts(101))
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(oversized)
    assert refused.value.status == 400 and "exceeds the limit of 100" in refused.value.body


def test_207_errors_are_mapped_to_the_failing_records(hubspot) -> None:
    service, server = hubspot
    records = contacts(10)
    broken = Record(
        key="cus_bad", fields={"email": "not-an-email", "firstname": "X"}, operation=Operation.UPSERT
    )
    outcome = destination(server).write_batch([*records[:5], broken, *records[5:]])
    rejected = {result.key: result.error for result in outcome.rejected}
    assert rejected == {"cus_bad": "VALIDATION_ERROR: Email address not-an-email is invalid"}
    assert len(outcome.confirmed) == 10 and "not-an-email" not in service.objects["contacts"]


def test_rate_limit_429s_are_retried_until_every_record_lands(tmp_path: Path) -> None:
    service = HubSpotFake(limit=3, window_seconds=0.5)
    with FakeServer(service) as server:
        client = HttpClient(retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.3))
        outcome = write_all(destination(server, client=client), contacts(1000))
    assert len(outcome.confirmed) == 1000
    assert service.throttled > 0 and client.stats["throttled"] == service.throttled


def test_mirror_archives_what_left_the_model(
    hubspot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = hubspot
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.crm as select 'cus_' || n as customer_id, 'person' || n || '@example.org' as email, "
        "'P' || n as firstname from range(1, 151) as t(n)"
    )
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", service.token)
    sync = SyncConfig(
        name="crm_contacts",
        model="crm",
        relation=Relation(None, "activation", "crm"),
        destination="hubspot",
        mode=Mode.MIRROR,
        primary_key="customer_id",
        fields={"email": "email", "firstname": "firstname"},
        options={"base_url": server.url},
        max_change_share=0.5,
    )
    engine = SyncWarehouse(warehouse.target)
    try:
        assert run_sync(engine, sync).confirmed == 150
        warehouse.execute("delete from activation.crm where customer_id in ('cus_1', 'cus_2')")
        assert run_sync(engine, sync).diff.removed == 2
    finally:
        engine.close()
    assert (
        len(service.objects["contacts"]) == 148 and "person1@example.org" not in service.objects["contacts"]
    )


def test_credentials_are_checked(hubspot) -> None:
    _, server = hubspot

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotDestination({"base_url": server.url}, missing, HttpClient())
    with pytest.raises(DestinationAuthError, match="HTTP 401"):
        destination(server, token="wrong").write_batch(contacts(3))
    request = destination(server).plan_batch(contacts(1))[0]
    assert "sandbox-hubspot-token" not in HttpRequest.describe(request)


@pytest.mark.parametrize("mode", [Mode.MIRROR, Mode.UPSERT])
def test_a_changed_email_updates_the_contact_this_sync_created(
    hubspot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    """Matched on email, 5 people change email: the same 50 contacts, by HubSpot id, hold the new emails (no
    second contact, no orphan under the old email); removed rows are archived by their id."""
    service, server = hubspot
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", service.token)
    with people(tmp_path) as model:
        sync = model.sync(
            "hubspot",
            {"email": "email", "firstname": "first_name"},
            {"base_url": server.url, "id_property": "email"},
            mode,
        )
        model.run(sync)
        ids = model.destination_ids(sync)
        model.change_emails()
        assert model.run(sync).diff.changed == len(CHANGED)
        stored = service.objects["contacts"]
        assert set(stored) == model.expected_emails()
        assert {key: record["id"] for key, record in stored.items()} == {
            record["properties"]["email"]: ids[f"cus_{record['properties']['firstname'][5:]}"]
            for record in stored.values()
        }
        assert model.destination_ids(sync) == ids
        if mode is Mode.MIRROR:
            model.remove()
            assert model.run(sync).diff.removed == len(REMOVED)
            assert set(stored) == model.expected_emails(REMOVED)
            assert {record["id"] for record in stored.values()} == set(ids.values()) - {
                ids[key] for key in REMOVED
            }


def test_a_contact_deleted_in_hubspot_is_created_again_by_email(hubspot) -> None:
    service, server = hubspot
    target = destination(server)
    (created,) = target.write_batch(contacts(1)).results
    service.objects["contacts"].clear()
    moved = Record(
        "cus_0", {"email": "moved@example.org", "firstname": "P0"}, Operation.UPSERT, created.destination_id
    )
    (result,) = target.write_batch([moved]).results
    assert result.ok and result.destination_id != created.destination_id
    assert list(service.objects["contacts"]) == ["moved@example.org"]


def test_an_email_another_contact_holds_is_a_reject_not_a_merge(hubspot) -> None:
    service, server = hubspot
    target = destination(server)
    first, second = target.write_batch(contacts(2)).results
    taken = Record("cus_1", {"email": "person0@example.org"}, Operation.UPSERT, second.destination_id)
    (result,) = target.write_batch([taken]).results
    assert not result.ok and result.error.startswith("CONFLICT: Contact already exists")
    assert service.objects["contacts"]["person1@example.org"]["id"] == second.destination_id


@pytest.mark.parametrize(
    ("base_url", "complaint"),
    [
        ("${CDP_HUBSPOT_BASE_URL}", "environment variable CDP_HUBSPOT_BASE_URL is not set"),
        ("localhost:8080", "needs an http:// or https:// scheme"),
        ("ftp://x", "needs an http:// or https:// scheme"),
        ("https://", "has no host"),
        ("http://api.hubapi.com", "must use https"),
        ("", "is empty"),
    ],
)
def test_base_url_is_checked_when_the_destination_is_made(base_url: str, complaint: str) -> None:
    with pytest.raises(
        ConfigError, match=r"hubspot option base_url \(meta.cdp_sync.options.base_url\)"
    ) as raised:
        HubSpotDestination({"base_url": base_url}, lambda name: "token", HttpClient())
    assert complaint in str(raised.value) and "\n" not in str(raised.value)
