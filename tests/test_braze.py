"""Braze destination against its local fake: /users/track attributes keyed by external_id, the 75-object
limit, minor errors mapped to rows by index, the per-workspace rate limit (429 with X-RateLimit-* headers,
retried), /users/delete in chunks of 50 for mirror, and config, key and permission errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from conftest import new_duckdb_warehouse
from match_keys import CHANGED, REMOVED, new_email, people
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.braze import BrazeDestination
from reverse_etl.errors import ConfigError, DestinationAuthError, FatalDestinationError, PartialFailure
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sandbox.braze import BrazeFake
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

KEY = "sandbox-braze-rest-key"


@pytest.fixture
def braze():
    service = BrazeFake()
    with FakeServer(service) as server:
        yield service, server


def destination(server: FakeServer, key: str = KEY, client: HttpClient | None = None) -> BrazeDestination:
    return BrazeDestination(
        {"rest_endpoint": server.url},
        lambda name: key,
        client or HttpClient(retry=RetryPolicy(base_delay=0.01)),
    )


def users(count: int, start: int = 0) -> list[Record]:
    return [
        Record(
            key=f"cus_{n}",
            fields={
                "external_id": f"cus_{n}",
                "email": f"person{n}@example.org",
                "orders": n,
                "vip": n % 3 == 0,
            },
            operation=Operation.UPSERT,
        )
        for n in range(start, start + count)
    ]


def write_all(target: BrazeDestination, records: list[Record]) -> BatchResult:
    outcome = BatchResult()
    size = target.capabilities.max_batch_size
    for start in range(0, len(records), size):
        outcome.results += target.write_batch(records[start : start + size]).results
    return outcome


def test_track_sends_attributes_by_external_id_in_batches_of_75(braze) -> None:
    service, server = braze
    target = destination(server)
    (request,) = target.plan_batch(users(2))
    assert request.method == "POST" and request.url == f"{server.url}/users/track"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.json == {
        "attributes": [
            {"external_id": "cus_0", "email": "person0@example.org", "orders": 0, "vip": True},
            {"external_id": "cus_1", "email": "person1@example.org", "orders": 1, "vip": False},
        ]
    }
    outcome = write_all(target, users(200))
    assert len(outcome.confirmed) == 200 and not outcome.rejected
    assert service.requests_seen == [("POST", "/users/track")] * 3, "200 users are 75 + 75 + 50"
    assert service.users["cus_7"] == {"email": "person7@example.org", "orders": 7, "vip": False}
    assert {r.key: r.destination_id for r in outcome.confirmed} == {
        f"cus_{n}": f"cus_{n}" for n in range(200)
    }
    service.queued = True
    queued = target.write_batch(users(2, start=500))
    assert len(queued.confirmed) == 2, "a 202 'queued' answer during maintenance is an accepted request"
    assert {"cus_500", "cus_501"} <= set(service.users)


def test_the_fake_refuses_more_than_75_attributes_or_50_deletes(braze) -> None:
    _, server = braze
    target = destination(server)
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(target._track_request(users(76)))
    assert refused.value.status == 400 and '"message": "Max Input Length Exceeded"' in (
        refused.value.body or ""
    )
    gone = [Record(f"k{n}", {}, Operation.DELETE, destination_id=f"k{n}") for n in range(51)]
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(target._delete_request(gone))
    assert refused.value.status == 400 and "max number of external_ids" in (refused.value.body or "")


def test_minor_errors_are_mapped_to_rows_by_index() -> None:
    faults = Faults(seed=3, record_reject_rate=0.25)
    service = BrazeFake(faults)
    with FakeServer(service) as server:
        target = destination(server)
        no_id = Record("cus_none", {"external_id": None, "email": "x@example.org"}, Operation.UPSERT)
        records = [*users(30), no_id, *users(44, start=30)]
        outcome = target.write_batch(records)
        expected = {r.key for r in records if r.fields["external_id"] and faults.reject_record(r.key)}
        assert 5 < len(expected) < 35
        rejected = {result.key: result.error for result in outcome.rejected}
        assert set(rejected) == expected | {"cus_none"}
        assert rejected["cus_none"] == "no value for external_id_field external_id"
        assert all("were not accepted" in rejected[key] for key in expected)
        assert set(service.users) == {r.key for r in records} - expected - {"cus_none"}
        # The fake's own minor error for an object without an identifier, by index, in Braze's shape.
        request = target._track_request(users(3))
        request.json["attributes"][1]["external_id"] = ""
        answer = requests.post(request.url, json=request.json, headers=dict(request.headers), timeout=5)
    assert answer.status_code == 201
    assert answer.json()["errors"] == [
        {
            "type": "'external_id' or 'braze_id' or 'user_alias' is required",
            "input_array": "attributes",
            "index": 1,
        }
    ]
    assert answer.json()["message"] == "success" and answer.json()["attributes_processed"] == 2 - bool(
        faults.reject_record("cus_0")
    ) - bool(faults.reject_record("cus_2"))


def test_rate_limit_429s_carry_braze_headers_and_are_retried() -> None:
    service = BrazeFake(track_limit=4, track_window_seconds=0.4)
    with FakeServer(service) as server:
        request = destination(server)._track_request(users(1))
        answers = [
            requests.post(request.url, json=request.json, headers=dict(request.headers), timeout=5)
            for _ in range(5)
        ]
        assert [a.status_code for a in answers] == [201] * 4 + [429]
        assert answers[-1].json() == {"message": "Rate limit exceeded", "errors": []}
        assert (
            answers[-1].headers["X-RateLimit-Limit"] == "4"
            and answers[-1].headers["X-RateLimit-Remaining"] == "0"
        )
        assert int(answers[-1].headers["X-RateLimit-Reset"]) > 0
        client = HttpClient(retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.3))
        outcome = write_all(destination(server, client=client), users(20 * 75))
    assert len(outcome.confirmed) == 1500 and len(service.users) == 1500
    assert service.throttled > 1 and client.stats["throttled"] == service.throttled - 1


def test_mirror_deletes_users_in_chunks_of_50(braze, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service, server = braze
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.profiles as select 'cus_' || n as customer_id, "
        "'person' || n || '@example.org' as email, n as orders from range(1, 121) as t(n)"
    )
    monkeypatch.setenv("BRAZE_REST_API_KEY", KEY)
    sync = SyncConfig(
        name="braze_users",
        model="profiles",
        relation=Relation(None, "activation", "profiles"),
        destination="braze",
        mode=Mode.MIRROR,
        primary_key="customer_id",
        fields={"external_id": "customer_id", "email": "email", "orders": "orders"},
        options={"rest_endpoint": server.url},
        max_change_share=0.9,
    )
    service.users["someone_else"] = {"email": "other@example.org"}
    engine = SyncWarehouse(warehouse.target)
    try:
        assert run_sync(engine, sync).confirmed == 120
        assert service.users["cus_9"] == {"email": "person9@example.org", "orders": 9}
        warehouse.execute("delete from activation.profiles where orders > 60")
        planned = run_sync(engine, sync, dry_run=True).planned_requests
        assert [(r.url.rsplit("/", 2)[-2:], len(r.json["external_ids"])) for r in planned] == [
            (["users", "delete"], 50),
            (["users", "delete"], 10),
        ]
        assert run_sync(engine, sync).diff.removed == 60
    finally:
        engine.close()
    assert sorted(service.deleted) == sorted(f"cus_{n}" for n in range(61, 121))
    assert set(service.users) == {f"cus_{n}" for n in range(1, 61)} | {"someone_else"}


def test_bad_config_key_and_permission(braze) -> None:
    service, server = braze

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="BRAZE_REST_API_KEY"):
        BrazeDestination({"rest_endpoint": server.url}, missing, HttpClient())
    with pytest.raises(ConfigError, match="rest_endpoint is required"):
        BrazeDestination({}, lambda name: KEY, HttpClient())
    for endpoint, complaint in [
        ("rest.iad-01.braze.com", "needs an http:// or https:// scheme"),
        ("localhost:8080", "needs an http:// or https:// scheme"),
        ("ftp://x", "needs an http:// or https:// scheme"),
        ("${CDP_BRAZE_REST_ENDPOINT}", "variable CDP_BRAZE_REST_ENDPOINT is not set"),
        ("http://rest.iad-01.braze.com", "must use https"),
    ]:
        with pytest.raises(ConfigError, match="braze option rest_endpoint") as raised:
            BrazeDestination({"rest_endpoint": endpoint}, lambda name: KEY, HttpClient())
        assert complaint in str(raised.value)
    # A refused key stops the run (no row is a reject): so does a key without the endpoint's permission.
    with pytest.raises(DestinationAuthError, match="HTTP 401"):
        destination(server, key="wrong").write_batch(users(3))
    assert not service.users
    service.permissions = frozenset({"users.track"})
    target = destination(server)
    assert len(target.write_batch(users(2)).confirmed) == 2
    with pytest.raises(DestinationAuthError, match="HTTP 403.*users.delete permission"):
        target.write_batch([Record("cus_0", {}, Operation.DELETE, destination_id="cus_0")])
    assert "cus_0" in service.users
    request: HttpRequest = target.plan_batch(users(1))[0]
    assert KEY not in request.describe()


@pytest.mark.parametrize("mode", [Mode.MIRROR, Mode.UPSERT])
def test_a_changed_external_id_renames_the_user_this_sync_created(
    braze, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    """external_id mapped from the email: 5 of 50 change it. Those users are renamed (their old id a deprecated
    alias of the same user), so Braze holds exactly 50 users under the current ids with their attributes;
    removed rows are deleted by their current external_id."""
    service, server = braze
    monkeypatch.setenv("BRAZE_REST_API_KEY", KEY)
    with people(tmp_path) as model:
        sync = model.sync(
            "braze", {"external_id": "email", "first_name": "first_name"}, {"rest_endpoint": server.url}, mode
        )
        model.run(sync)
        model.change_emails()
        assert model.run(sync).diff.changed == len(CHANGED)
        assert set(service.users) == model.expected_emails()
        assert service.users[new_email("cus_17")] == {"first_name": "First17"}
        assert service.deprecated == {f"person{key[4:]}@example.org": new_email(key) for key in CHANGED}
        assert model.destination_ids(sync)["cus_17"] == new_email("cus_17")
        if mode is Mode.MIRROR:
            model.remove()
            assert model.run(sync).diff.removed == len(REMOVED)
            assert set(service.users) == model.expected_emails(REMOVED)
            assert set(service.deleted) == {new_email("cus_3"), "person9@example.org"}


def test_a_refused_rename_is_reported_once_then_the_row_is_sent_by_its_new_id(braze) -> None:
    service, server = braze
    target = destination(server)
    target.write_batch(users(1))
    del service.users["cus_0"]  # deleted in Braze since
    moved = Record("cus_0", {**users(1)[0].fields, "external_id": "cus_0_new"}, Operation.UPSERT, "cus_0")
    (refused,) = target.write_batch([moved]).results
    assert not refused.ok and refused.retryable and refused.destination_id == "cus_0_new"
    assert "rename of external_id cus_0 refused" in (refused.error or "") and not service.users
    (sent,) = target.write_batch([Record(moved.key, moved.fields, moved.operation, "cus_0_new")]).results
    assert sent.ok and set(service.users) == {"cus_0_new"}
    service.permissions = frozenset({"users.track"})
    again = Record("cus_0", {**moved.fields, "external_id": "cus_0_newer"}, Operation.UPSERT, "cus_0_new")
    # A key without the rename permission is the run's failure (exit 7), not the row's.
    with pytest.raises(DestinationAuthError, match="HTTP 403"):
        target.write_batch([again])
    assert set(service.users) == {"cus_0_new"}


def test_through_the_engine_a_refused_rename_keeps_the_new_id_and_the_next_run_sends_the_row(
    braze, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = braze
    monkeypatch.setenv("BRAZE_REST_API_KEY", KEY)
    with people(tmp_path, count=3) as model:
        sync = model.sync(
            "braze", {"external_id": "email", "first_name": "first_name"}, {"rest_endpoint": server.url}
        )
        model.run(sync)
        del service.users["person2@example.org"]  # deleted in Braze since
        model.change_emails(("cus_2",))
        with pytest.raises(PartialFailure) as failed:
            run_sync(model.engine, sync)
        assert failed.value.summary.rejected == 1
        assert model.destination_ids(sync)["cus_2"] == new_email("cus_2")
        assert model.run(sync).confirmed == 1
        assert set(service.users) == {"person1@example.org", "person3@example.org", new_email("cus_2")}
