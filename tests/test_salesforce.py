"""Salesforce destination against its local fake: sObject Collections upsert shape, the 200-record limit,
per-record results mapped back to rows by position, the daily request allocation (403
REQUEST_LIMIT_EXCEEDED stops the run, nothing lost), collections delete for mirror, and config / auth."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import new_duckdb_warehouse
from match_keys import CHANGED, REMOVED, people
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.salesforce import SalesforceDestination
from reverse_etl.errors import (
    ConfigError,
    DestinationAuthError,
    FatalDestinationError,
    RetryableDestinationError,
)
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sandbox.salesforce import SalesforceFake
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

TOKEN = "sandbox-salesforce-token"


@pytest.fixture
def salesforce():
    service = SalesforceFake()
    with FakeServer(service) as server:
        yield service, server


def destination(
    server: FakeServer, token: str = TOKEN, client: HttpClient | None = None, **options
) -> SalesforceDestination:
    settings = {"instance_url": server.url, "external_id_field": "Customer_Id__c", **options}
    return SalesforceDestination(
        settings, lambda name: token, client or HttpClient(retry=RetryPolicy(base_delay=0.01))
    )


def contacts(count: int, start: int = 0) -> list[Record]:
    return [
        Record(
            key=f"cus_{n}",
            fields={
                "Customer_Id__c": f"cus_{n}",
                "LastName": f"Person{n}",
                "Email": f"person{n}@example.org",
                "HasOptedOutOfEmail": n % 2 == 0,
            },
            operation=Operation.UPSERT,
        )
        for n in range(start, start + count)
    ]


def write_all(target: SalesforceDestination, records: list[Record]) -> BatchResult:
    outcome = BatchResult()
    size = target.capabilities.max_batch_size
    for start in range(0, len(records), size):
        outcome.results += target.write_batch(records[start : start + size]).results
    return outcome


def test_upsert_by_external_id_in_collections_of_200(salesforce) -> None:
    service, server = salesforce
    target = destination(server)
    (request,) = target.plan_batch(contacts(2))
    assert request.method == "PATCH"
    assert request.url == f"{server.url}/services/data/v62.0/composite/sobjects/Contact/Customer_Id__c"
    assert request.json["allOrNone"] is False
    assert request.json["records"][1] == {
        "attributes": {"type": "Contact"},
        "Customer_Id__c": "cus_1",
        "LastName": "Person1",
        "Email": "person1@example.org",
        "HasOptedOutOfEmail": False,
    }
    outcome = write_all(target, contacts(450))
    assert len(outcome.confirmed) == 450 and not outcome.rejected
    assert service.api_requests == 3, "450 records are 200 + 200 + 50"
    stored = service.records["Contact"]
    assert stored["cus_7"]["LastName"] == "Person7" and stored["cus_7"]["HasOptedOutOfEmail"] is False
    ids = {result.key: result.destination_id for result in outcome.confirmed}
    assert ids == {key: record["Id"] for key, record in stored.items()}
    assert all(len(value or "") == 18 and (value or "").startswith("003") for value in ids.values())
    changed = [
        Record(r.key, {**r.fields, "LastName": "Renamed"}, Operation.UPSERT) for r in contacts(3, start=10)
    ]
    again = target.write_batch(changed)
    assert [r.destination_id for r in again.confirmed] == [ids["cus_10"], ids["cus_11"], ids["cus_12"]]
    assert len(stored) == 450 and stored["cus_11"]["LastName"] == "Renamed"


def test_the_fake_refuses_more_than_200_records_or_ids(salesforce) -> None:
    _, server = salesforce
    target = destination(server)
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(target._upsert_request(contacts(201)))
    assert refused.value.status == 400 and '"errorCode": "EXCEEDED_ID_LIMIT"' in (refused.value.body or "")
    gone = [Record(f"k{n}", {}, Operation.DELETE, destination_id=f"003{n:012d}AAA") for n in range(201)]
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(target._remove_request(gone))
    assert refused.value.status == 400 and "EXCEEDED_ID_LIMIT" in (refused.value.body or "")
    untyped = HttpRequest(
        "PATCH",
        target._upsert_request(contacts(1)).url,
        headers=target._headers(),
        json={"allOrNone": False, "records": [{"Customer_Id__c": "x", "LastName": "X"}]},
    )
    with pytest.raises(FatalDestinationError, match="type attribute"):
        HttpClient().send(untyped)


def test_per_record_errors_are_mapped_to_their_rows_by_position(salesforce) -> None:
    service, server = salesforce
    good = contacts(6)
    no_last_name = Record(
        "cus_nolast", {"Customer_Id__c": "cus_nolast", "Email": "a@example.org"}, Operation.UPSERT
    )
    bad_email = Record(
        "cus_bademail", {"Customer_Id__c": "cus_bademail", "LastName": "B", "Email": "nope"}, Operation.UPSERT
    )
    no_key = Record("cus_nokey", {"Customer_Id__c": None, "LastName": "C"}, Operation.UPSERT)
    batch = [*good[:2], no_last_name, *good[2:4], bad_email, no_key, *good[4:]]
    outcome = destination(server).write_batch(batch)
    rejected = {result.key: result.error for result in outcome.rejected}
    assert rejected == {
        "cus_nolast": "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (LastName)",
        "cus_bademail": "INVALID_EMAIL_ADDRESS: Email: invalid email address: nope (Email)",
        "cus_nokey": "no value for external_id_field Customer_Id__c",
    }
    assert not any(result.retryable for result in outcome.rejected)
    assert sorted(result.key for result in outcome.confirmed) == sorted(r.key for r in good)
    assert set(service.records["Contact"]) == {f"cus_{n}" for n in range(6)}


def test_seeded_record_locks_are_rejected_as_retryable_and_land_later() -> None:
    faults = Faults(seed=7, record_reject_rate=0.2)
    service = SalesforceFake(faults)
    with FakeServer(service) as server:
        target = destination(server)
        records = contacts(200)
        first = target.write_batch(records)
        locked = {result.key for result in first.rejected}
        assert locked == {r.key for r in records if faults.reject_record(r.key)} and 10 < len(locked) < 80
        assert all(r.retryable and r.error.startswith("UNABLE_TO_LOCK_ROW") for r in first.rejected)
        assert set(service.records["Contact"]) == {r.key for r in records} - locked
        faults.record_reject_rate = 0.0
        second = target.write_batch([r for r in records if r.key in locked])
        assert len(second.confirmed) == len(locked) and len(service.records["Contact"]) == 200


def test_all_or_none_true_rolls_back_the_whole_collection(salesforce) -> None:
    service, server = salesforce
    target = destination(server)
    request = target._upsert_request([*contacts(2), Record("x", {"Customer_Id__c": "x"}, Operation.UPSERT)])
    response = HttpClient().send(
        HttpRequest(request.method, request.url, request.headers, json={**request.json, "allOrNone": True})
    )
    codes = [result["errors"][0]["statusCode"] for result in response.json()]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK"] * 2 + ["REQUIRED_FIELD_MISSING"]
    assert not service.records["Contact"]


def test_request_limit_exceeded_stops_the_run_and_the_next_run_finishes(tmp_path: Path, monkeypatch) -> None:
    service = SalesforceFake(daily_api_requests=2)
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.crm as select 'cus_' || n as customer_id, 'Person' || n as last_name, "
        "'person' || n || '@example.org' as email from range(1, 501) as t(n)"
    )
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
    engine = SyncWarehouse(warehouse.target)
    with FakeServer(service) as server:
        sync = SyncConfig(
            name="crm_contacts",
            model="crm",
            relation=Relation(None, "activation", "crm"),
            destination="salesforce",
            mode=Mode.UPSERT,
            primary_key="customer_id",
            fields={"Customer_Id__c": "customer_id", "LastName": "last_name", "Email": "email"},
            options={"instance_url": server.url, "external_id_field": "Customer_Id__c"},
        )
        try:
            with pytest.raises(RetryableDestinationError, match="REQUEST_LIMIT_EXCEEDED"):
                run_sync(engine, sync)
            assert service.limit_refusals == 1 and len(service.records["Contact"]) == 400
            service.daily_api_requests = 100
            second = run_sync(engine, sync)
            assert second.diff.added == 100 and second.confirmed == 100
            confirmed = engine.query(
                "select record_key, destination_id from cdp_sync.snapshots where sync_name = ?",
                ("crm_contacts",),
            )
        finally:
            engine.close()
    stored = service.records["Contact"]
    assert len(stored) == 500 and service.api_requests == 3
    assert dict(confirmed) == {key: record["Id"] for key, record in stored.items()}


def test_mirror_deletes_the_ids_this_sync_created(salesforce, tmp_path: Path, monkeypatch) -> None:
    service, server = salesforce
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.crm as select 'cus_' || n as customer_id, 'Person' || n as last_name "
        "from range(1, 251) as t(n)"
    )
    monkeypatch.setenv("SF_TOKEN", TOKEN)
    sync = SyncConfig(
        name="crm_mirror",
        model="crm",
        relation=Relation(None, "activation", "crm"),
        destination="salesforce",
        mode=Mode.MIRROR,
        primary_key="customer_id",
        fields={"Customer_Id__c": "customer_id", "LastName": "last_name"},
        options={"instance_url": server.url, "external_id_field": "Customer_Id__c", "token_env": "SF_TOKEN"},
        max_change_share=0.5,
    )
    service.records["Contact"]["someone_else"] = {"Id": "003999999999999AAA", "LastName": "Not ours"}
    engine = SyncWarehouse(warehouse.target)
    try:
        assert run_sync(engine, sync).confirmed == 250
        removed_ids = {key: service.records["Contact"][key]["Id"] for key in ("cus_1", "cus_2", "cus_3")}
        warehouse.execute("delete from activation.crm where customer_id in ('cus_1', 'cus_2', 'cus_3')")
        second = run_sync(engine, sync, dry_run=True)
        (planned,) = second.planned_requests
        assert planned.method == "DELETE" and planned.url.endswith("/services/data/v62.0/composite/sobjects")
        assert planned.params == {"ids": ",".join(removed_ids.values()), "allOrNone": "false"}
        assert run_sync(engine, sync).diff.removed == 3
    finally:
        engine.close()
    assert service.deleted == set(removed_ids.values())
    assert len(service.records["Contact"]) == 248 and "someone_else" in service.records["Contact"]
    again = destination(server).write_batch(
        [Record("cus_1", {}, Operation.DELETE, destination_id=removed_ids["cus_1"])]
    )
    assert len(again.confirmed) == 1, "a record already deleted (ENTITY_IS_DELETED) counts as done"


def test_bad_config_and_bad_credentials(salesforce) -> None:
    _, server = salesforce

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="SALESFORCE_ACCESS_TOKEN"):
        SalesforceDestination(
            {"instance_url": server.url, "external_id_field": "Id__c"}, missing, HttpClient()
        )
    for options, complaint in [
        ({"external_id_field": "Id__c"}, "instance_url is required"),
        ({"instance_url": "http://acme.my.salesforce.com", "external_id_field": "Id__c"}, "must use https"),
        ({"instance_url": "${SF_URL}", "external_id_field": "Id__c"}, "variable SF_URL is not set"),
        ({"instance_url": "localhost:8080", "external_id_field": "Id__c"}, "http:// or https:// scheme"),
        ({"instance_url": "ftp://x", "external_id_field": "Id__c"}, "http:// or https:// scheme"),
        ({"instance_url": "https://acme.my.salesforce.com"}, "external_id_field is required"),
        ({"instance_url": server.url, "external_id_field": "Id__c", "api_version": "45.0"}, "46.0 or later"),
        ({"instance_url": server.url, "external_id_field": "Id__c", "sobject": "Contact; drop"}, "sobject"),
    ]:
        with pytest.raises(ConfigError, match=complaint):
            SalesforceDestination(options, lambda name: TOKEN, HttpClient())
    with pytest.raises(DestinationAuthError, match="HTTP 401 .*INVALID_SESSION_ID"):
        destination(server, token="expired").write_batch(contacts(3))
    request = destination(server).plan_batch(contacts(1))[0]
    assert TOKEN not in request.describe()


@pytest.mark.parametrize("mode", [Mode.MIRROR, Mode.UPSERT])
def test_a_changed_external_id_updates_the_record_this_sync_created(
    salesforce, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    """Matched on an external id field holding the email: 5 of 50 change it. The same 50 record ids hold the
    new values (update by id), none is left under an old value; removed rows are deleted by their id."""
    service, server = salesforce
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
    with people(tmp_path) as model:
        sync = model.sync(
            "salesforce",
            {"Email_Key__c": "email", "Email": "email", "LastName": "last_name"},
            {"instance_url": server.url, "external_id_field": "Email_Key__c"},
            mode,
        )
        model.run(sync)
        ids = model.destination_ids(sync)
        model.change_emails()
        assert model.run(sync).diff.changed == len(CHANGED)
        stored = service.records["Contact"]
        assert set(stored) == model.expected_emails()
        assert {record["Id"] for record in stored.values()} == set(ids.values())
        assert all(record["Email"] == key for key, record in stored.items())
        assert model.destination_ids(sync) == ids
        if mode is Mode.MIRROR:
            model.remove()
            assert model.run(sync).diff.removed == len(REMOVED)
            assert set(stored) == model.expected_emails(REMOVED)
            assert service.deleted == {ids[key] for key in REMOVED}


def test_an_update_of_a_deleted_record_upserts_it_again_and_a_taken_value_is_a_reject(salesforce) -> None:
    service, server = salesforce
    target = destination(server)
    first, second = target.write_batch(contacts(2)).results
    target.write_batch([Record("cus_0", {}, Operation.DELETE, first.destination_id)])
    again = Record("cus_0", contacts(1)[0].fields, Operation.UPSERT, first.destination_id)
    (recreated,) = target.write_batch([again]).results
    assert recreated.ok and recreated.destination_id not in (first.destination_id, None)
    taken = Record(
        "cus_1", {**contacts(2)[1].fields, "Customer_Id__c": "cus_0"}, Operation.UPSERT, second.destination_id
    )
    (refused,) = target.write_batch([taken]).results
    assert not refused.ok and refused.error.startswith("DUPLICATE_VALUE")
    assert service.records["Contact"]["cus_1"]["Id"] == second.destination_id
