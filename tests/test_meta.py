"""Meta Custom Audiences against its local fake: multi-key request shape, the 10,000-row split, invalid entries
mapped to rows, Graph API throttling, removes, the usersreplace session (a pre-filled audience ends equal to the
model) and bad config, through the destination and through the sync engine."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from conftest import WAREHOUSES, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.destinations import identifiers as ids
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.meta import SCHEMA, MetaCustomAudienceDestination
from reverse_etl.errors import ConfigError, FatalDestinationError, PartialFailure, SyncError
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sandbox.meta import MetaFake, member_id
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

AUDIENCE = "23850000000000001"


@pytest.fixture
def meta():
    service = MetaFake()
    with FakeServer(service) as server:
        yield service, server


def destination(
    server: FakeServer, token: str = "sandbox-meta-token", client: HttpClient | None = None, **options: object
) -> MetaCustomAudienceDestination:
    return MetaCustomAudienceDestination(
        {"base_url": server.url, "audience_id": AUDIENCE, **options},
        lambda name: token,
        client or HttpClient(retry=RetryPolicy(base_delay=0.01, max_delay=0.05)),
    )


def people(count: int, start: int = 0, operation: Operation = Operation.ADD) -> list[Record]:
    return [
        Record(
            key=f"cus_{n}",
            fields={"emails": [f"Person{n}@Example.org "], "phones": None},
            operation=operation,
        )
        for n in range(start, start + count)
    ]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def email_member(email: str) -> int:
    return member_id(ids.sha256_hex(ids.meta_email(email)))


def phone_member(phone: str, region: str | None = None) -> int:
    return member_id(ids.sha256_hex(ids.meta_phone(phone, region)))


def write_all(target: MetaCustomAudienceDestination, records: list[Record]) -> BatchResult:
    outcome = BatchResult()
    for start in range(0, len(records), target.capabilities.max_batch_size):
        outcome.results += target.write_batch(
            records[start : start + target.capabilities.max_batch_size]
        ).results
    return outcome


def test_a_person_is_sent_in_the_multi_key_schema_with_every_email_and_phone(meta) -> None:
    service, server = meta
    person = Record(
        key="cus_1",
        fields={
            "emails": ["Ann.Lee@Example.com", " ann@work.example "],
            "phones": "+1 (650) 555-0101",
            "first_name": "Ann-Marie",
            "last_name": "Lee",
            "city": "Menlo Park",
            "state": "California",
            "zip": "94025-1234",
            "country": "us",
        },
        operation=Operation.ADD,
    )
    target = destination(server)
    (request,) = target.plan_batch([person])
    assert request.method == "POST" and request.url == f"{server.url}/v21.0/{AUDIENCE}/users"
    assert (
        request.json["payload"]["schema"]
        == SCHEMA
        == ["EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY"]
    )
    tail = [sha(v) for v in ("annmarie", "lee", "menlopark", "ca", "94025", "us")]
    assert request.json["payload"]["data"] == [
        [sha("ann.lee@example.com"), sha("16505550101"), *tail],
        [sha("ann@work.example"), "", *tail],
    ]
    assert "sandbox-meta-token" not in request.describe() and "Authorization: ***" in request.describe()
    outcome = target.write_batch([person])
    assert [result.ok for result in outcome.results] == [True] and outcome.dropped == {}
    assert service.members(AUDIENCE) == {
        email_member("ann.lee@example.com"),
        email_member("ann@work.example"),
        phone_member("+16505550101"),
    }


def test_city_and_state_follow_metas_rules_and_a_partial_address_is_sent_key_by_key(meta) -> None:
    """CT: a-z only, lower-case, no punctuation, special characters or whitespace. ST: a US state as its
    two-letter ANSI code, lower-case; a state elsewhere a-z only. Meta matches on any combination of keys, so
    a row missing part of its address sends the parts it has; a value that is not valid is left out and
    counted."""
    _, server = meta
    rows = [
        Record(
            "us",
            {"emails": "a@example.org", "city": "St. Louis", "state": " MO ", "country": "US"},
            Operation.ADD,
        ),
        Record("named_state", {"emails": "b@example.org", "state": "New York"}, Operation.ADD),
        Record(
            "abroad",
            {"emails": "c@example.org", "city": "Halifax", "state": "Nova Scotia", "country": "CA"},
            Operation.ADD,
        ),
        Record(
            "bad_state",
            {"emails": "d@example.org", "city": "Springfield", "state": "Calif.", "country": "us"},
            Operation.ADD,
        ),
        Record(
            "bad_city",
            {"emails": "e@example.org", "city": "75008", "zip": "75008", "country": "FR"},
            Operation.ADD,
        ),
    ]
    target = destination(server)
    (request,) = target.plan_batch(rows)
    ct, st, zip_code, country = (SCHEMA.index(key) for key in ("CT", "ST", "ZIP", "COUNTRY"))
    sent = {
        row[0]: (row[ct], row[st], row[zip_code], row[country]) for row in request.json["payload"]["data"]
    }
    assert sent == {
        sha("a@example.org"): (sha("stlouis"), sha("mo"), "", sha("us")),
        sha("b@example.org"): ("", sha("ny"), "", ""),
        sha("c@example.org"): (sha("halifax"), sha("novascotia"), "", sha("ca")),
        sha("d@example.org"): (sha("springfield"), "", "", sha("us")),
        sha("e@example.org"): ("", "", sha("75008"), sha("fr")),
    }
    outcome = target.write_batch(rows)
    assert len(outcome.confirmed) == 5
    assert outcome.dropped == {"state: not a US state": 1, "city: no letters a-z": 1}


def test_a_row_sends_every_valid_identifier_and_is_rejected_only_when_none_is_left(meta) -> None:
    service, server = meta
    good = people(3)
    rows = [
        # One good email, one that is no address, a valid phone: the good email and the phone are sent.
        Record(
            "cus_mixed",
            {"emails": ["Mixed@Example.org", "not-an-email"], "phones": "+1 650 555 0111"},
            Operation.ADD,
        ),
        Record("cus_bad_phone", {"emails": "ok@example.org", "phones": ["12", "+1 555"]}, Operation.ADD),
        Record("cus_too_many", {"emails": [f"e{n}@example.org" for n in range(11)]}, Operation.ADD),
        Record("cus_bad_email", {"emails": ["not-an-email", "also@bad@example.org"]}, Operation.ADD),
        Record("cus_nothing", {"emails": None, "phones": ""}, Operation.ADD),
    ]
    outcome = destination(server).write_batch([good[0], *rows, *good[1:]])
    errors = {result.key: result.error for result in outcome.rejected}
    assert set(errors) == {"cus_bad_email", "cus_nothing"}
    assert "'not-an-email'" in errors["cus_bad_email"] and "'also@bad@example.org'" in errors["cus_bad_email"]
    assert "no valid email or phone" in errors["cus_nothing"]
    assert {result.key for result in outcome.confirmed} == {
        "cus_0",
        "cus_1",
        "cus_2",
        "cus_mixed",
        "cus_bad_phone",
        "cus_too_many",
    }
    # Every value left out is counted, those of the rejected row included.
    assert outcome.dropped == {
        "email: not an address": 3,
        "phone: no country code": 1,
        "phone: not a phone number": 1,
        "emails: more than 10 per person": 1,
    }
    assert service.members(AUDIENCE) == {
        *(email_member(f"person{n}@example.org") for n in range(3)),
        email_member("mixed@example.org"),
        phone_member("+16505550111"),
        email_member("ok@example.org"),
        *(email_member(f"e{n}@example.org") for n in range(10)),
    }


def test_dropped_counts_are_per_batch_and_cover_adds_and_removes(meta) -> None:
    _, server = meta
    target = destination(server)
    first = target.write_batch(
        [
            Record("add", {"emails": ["a@example.org", "bad"]}, Operation.ADD),
            Record("remove", {"emails": ["b@example.org", "worse"], "phones": "12"}, Operation.REMOVE),
        ]
    )
    assert all(result.ok for result in first.results)
    assert first.dropped == {"email: not an address": 2, "phone: no country code": 1}
    second = target.write_batch([Record("clean", {"emails": "c@example.org"}, Operation.ADD)])
    assert second.dropped == {}


def test_emails_are_normalized_by_metas_written_rule(meta) -> None:
    """Meta's EMAIL rule: trim leading and trailing whitespace, convert to lower-case; nothing else. Dots and plus
    tags stay (gmail.com included); a value with whitespace inside or a trailing dot is no address and is left
    out."""
    service, server = meta
    row = Record(
        "cus_1",
        {
            "emails": [
                "  Jane.Doe+Ads@GMail.COM\t",
                "JANE@EXAMPLE.ORG",
                "jane doe@example.org",
                "jane@example.org.",
            ]
        },
        Operation.ADD,
    )
    target = destination(server)
    (request,) = target.plan_batch([row])
    assert [data[0] for data in request.json["payload"]["data"]] == [
        sha("jane.doe+ads@gmail.com"),
        sha("jane@example.org"),
    ]
    outcome = target.write_batch([row])
    assert outcome.results[0].ok and outcome.dropped == {"email: not an address": 2}
    assert service.members(AUDIENCE) == {
        member_id(sha("jane.doe+ads@gmail.com")),
        member_id(sha("jane@example.org")),
    }


def test_a_field_that_is_no_custom_audience_key_stops_the_run(meta) -> None:
    _, server = meta
    with pytest.raises(ConfigError, match="postal_code are not Custom Audience keys"):
        destination(server).write_batch(
            [Record("k", {"emails": "a@example.org", "postal_code": "1"}, Operation.ADD)]
        )


def test_requests_split_at_10000_rows_and_the_fake_refuses_more(meta) -> None:
    service, server = meta
    # 5,001 people with two emails each: 10,002 data rows, so two requests.
    records = [
        Record(f"cus_{n}", {"emails": f"a{n}@example.org;b{n}@example.org"}, Operation.ADD)
        for n in range(5001)
    ]
    target = destination(server)
    planned = target.plan_batch(records)
    assert [len(request.json["payload"]["data"]) for request in planned] == [10_000, 2]
    outcome = target.write_batch(records)
    assert len(outcome.confirmed) == 5001 and len(service.members(AUDIENCE)) == 10_002
    oversized = HttpRequest(
        "POST",
        f"{server.url}/v21.0/{AUDIENCE}/users",
        headers={"Authorization": "Bearer sandbox-meta-token"},
        json={
            "payload": {
                "schema": "EMAIL_SHA256",
                "data": [ids.sha256_hex(f"x{n}@e.org") for n in range(10_001)],
            }
        },
    )
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(oversized)
    assert (
        refused.value.status == 400 and '"code": 100' in refused.value.body and "10,000" in refused.value.body
    )


def test_the_fake_counts_plain_and_upper_case_values_as_invalid_entries(meta) -> None:
    service, server = meta
    upper = ids.sha256_hex("a@example.org").upper()
    response = HttpClient().send(
        HttpRequest(
            "POST",
            f"{server.url}/v21.0/{AUDIENCE}/users",
            params={"access_token": "sandbox-meta-token"},
            json={
                "payload": {
                    "schema": ["EMAIL", "PHONE"],
                    "data": [["plain@example.org", ""], [upper, ""], [ids.sha256_hex("b@example.org"), ""]],
                }
            },
        )
    )
    body = response.json()
    assert body["num_received"] == 3 and body["num_invalid_entries"] == 2
    assert set(body["invalid_entry_samples"]) == {"plain@example.org", upper}
    assert service.members(AUDIENCE) == {email_member("b@example.org")}
    assert "X-Business-Use-Case-Usage" in response.headers


def test_invalid_entries_are_mapped_to_the_rows_that_sent_them() -> None:
    faults = Faults(seed=7, record_reject_rate=0.1)
    service = MetaFake(faults)
    records = people(500)
    with FakeServer(service) as server:
        outcome = destination(server).write_batch(records)
    expected = {
        record.key
        for record in records
        if faults.reject_record(ids.sha256_hex(ids.meta_email(record.fields["emails"][0])))
    }
    assert 20 < len(expected) < 90
    assert {result.key for result in outcome.rejected} == expected
    assert all("could not be processed" in result.error for result in outcome.rejected)
    assert len(service.members(AUDIENCE)) == 500 - len(expected)


def test_graph_api_throttling_is_retried_until_every_row_lands() -> None:
    service = MetaFake(limit=2, window_seconds=0.3)
    with FakeServer(service) as server:
        target = destination(
            server, client=HttpClient(retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.3))
        )
        records = people(50)
        outcome = BatchResult()
        for start in range(0, 50, 5):
            outcome.results += target.write_batch(records[start : start + 5]).results
    assert len(outcome.confirmed) == 50 and len(service.members(AUDIENCE)) == 50
    assert service.throttled > 0 and target.throttled == service.throttled


def test_seeded_throttling_and_server_errors_are_retried() -> None:
    service = MetaFake(Faults(seed=3, throttle_rate=0.3, server_error_rate=0.2))
    with FakeServer(service) as server:
        target = destination(
            server, client=HttpClient(retry=RetryPolicy(max_attempts=20, base_delay=0.01, max_delay=0.02))
        )
        records = people(60)
        outcome = BatchResult()
        for start in range(0, 60, 4):
            outcome.results += target.write_batch(records[start : start + 4]).results
    assert len(outcome.confirmed) == 60 and len(service.members(AUDIENCE)) == 60
    assert target.throttled > 0 and target.http.stats["retries"] > 0


def test_removes_by_fields_and_by_the_destination_id_of_an_earlier_add(meta) -> None:
    service, server = meta
    target = destination(server)
    added = target.write_batch(people(10))
    ids_by_key = {result.key: result.destination_id for result in added.results}
    # audience_remove mode: rows carry their fields.
    assert len(target.write_batch(people(3, operation=Operation.REMOVE)).confirmed) == 3
    # audience_replace: a row that left the model carries only the destination id it was added with.
    gone = [Record(f"cus_{n}", {}, Operation.REMOVE, destination_id=ids_by_key[f"cus_{n}"]) for n in (5, 6)]
    (request,) = target.plan_batch(gone)
    assert request.method == "DELETE" and request.url.endswith(f"/{AUDIENCE}/users")
    assert len(target.write_batch(gone).confirmed) == 2
    assert service.members(AUDIENCE) == {email_member(f"person{n}@example.org") for n in (3, 4, 7, 8, 9)}


def test_replace_session_rules_of_the_fake(meta) -> None:
    service, server = meta
    url = f"{server.url}/v21.0/{AUDIENCE}/usersreplace"
    client = HttpClient(retry=RetryPolicy(max_attempts=1))
    headers = {"Authorization": "Bearer sandbox-meta-token"}

    def batch(seq: int, last: bool, email: str, session_id: int = 42) -> HttpRequest:
        session = {
            "session_id": session_id,
            "batch_seq": seq,
            "last_batch_flag": last,
            "estimated_num_total": 2,
        }
        payload = {"schema": ["EMAIL"], "data": [[ids.sha256_hex(email)]]}
        return HttpRequest("POST", url, headers=headers, json={"payload": payload, "session": session})

    service.prefill(AUDIENCE, [ids.sha256_hex("stranger@example.org")])
    with pytest.raises(FatalDestinationError, match="batch_seq must start at 1"):
        client.send(batch(2, False, "a@example.org"))
    assert client.send(batch(1, False, "a@example.org")).json()["session_id"] == 42
    with pytest.raises(FatalDestinationError, match="Another replace session"):
        client.send(batch(1, False, "a@example.org", session_id=43))
    with pytest.raises(FatalDestinationError, match="being replaced"):
        destination(server).http.send(destination(server).plan_batch(people(1))[0])
    with pytest.raises(FatalDestinationError, match="out of order"):
        client.send(batch(3, False, "b@example.org"))
    assert service.members(AUDIENCE) == {email_member("stranger@example.org")}  # nothing replaced yet
    client.send(batch(2, True, "b@example.org"))
    assert service.members(AUDIENCE) == {email_member("a@example.org"), email_member("b@example.org")}


def test_a_replace_session_is_closed_in_finish_run_even_after_an_interrupted_run(meta) -> None:
    service, server = meta
    service.prefill(AUDIENCE, [ids.sha256_hex("stranger@example.org")])
    target = destination(server)
    target.begin_run(Mode.AUDIENCE_REPLACE, previously_synced=0)
    (planned,) = target.plan_batch(people(2))
    assert planned.url.endswith("/usersreplace") and planned.json["session"]["batch_seq"] == 1
    assert len(target.write_batch(people(4)).confirmed) == 4
    # Rows the engine knew from a crashed earlier run: the replace drops them, nothing is sent.
    stale = [
        Record(
            "cus_old", {}, Operation.REMOVE, destination_id=f"EMAIL={ids.sha256_hex('o@example.org')};PHONE="
        )
    ]
    sent = len(service.requests_seen)
    assert len(target.write_batch(stale).confirmed) == 1 and len(service.requests_seen) == sent
    assert member_id(ids.sha256_hex("stranger@example.org")) in service.members(AUDIENCE)
    target.finish_run(Mode.AUDIENCE_REPLACE, success=False)
    assert service.members(AUDIENCE) == {email_member(f"person{n}@example.org") for n in range(4)}
    assert service.audiences[AUDIENCE].session is None
    # Later runs add and remove.
    target.begin_run(Mode.AUDIENCE_REPLACE, previously_synced=4)
    assert target.plan_batch(people(1))[0].url.endswith("/users")


def test_a_session_that_cannot_be_closed_fails_the_run_saying_so(meta) -> None:
    service, server = meta
    target = destination(server)
    target.begin_run(Mode.AUDIENCE_REPLACE, previously_synced=0)
    assert len(target.write_batch(people(2)).confirmed) == 2
    target.config = destination(server, token="expired").config
    with pytest.raises(SyncError, match="could not close replace session"):
        target.finish_run(Mode.AUDIENCE_REPLACE, success=True)
    assert service.members(AUDIENCE) == set() and service.audiences[AUDIENCE].session is not None


def test_bad_config_is_refused_at_start_up(meta) -> None:
    _, server = meta
    for options, message in (
        ({"audience_id": None}, "audience_id must be the numeric id"),
        ({"audience_id": "act_123"}, "audience_id must be the numeric id"),
        ({"api_version": "21"}, "api_version must look like v21.0"),
        ({"default_region": "usa"}, "default_region must be a two-letter"),
    ):
        with pytest.raises(ConfigError, match=message):
            destination(server, **options)  # type: ignore[arg-type]

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="META_ACCESS_TOKEN"):
        MetaCustomAudienceDestination({"audience_id": AUDIENCE}, missing, HttpClient())
    outcome = destination(server, token="wrong").write_batch(people(2))
    assert len(outcome.rejected) == 2 and all('"code": 190' in result.error for result in outcome.rejected)
    old = destination(server, api_version="v18.0").write_batch(people(1))
    assert "2635" in old.rejected[0].error


def _sync(server: FakeServer, mode: Mode = Mode.AUDIENCE_REPLACE) -> SyncConfig:
    return SyncConfig(
        name="meta_audience",
        model="audience",
        relation=Relation(None, "activation", "audience"),
        destination="meta",
        mode=mode,
        primary_key="customer_id",
        fields={"emails": "emails", "phones": "phones"},
        options={"base_url": server.url, "audience_id": AUDIENCE, "default_region": "US"},
        max_change_share=1.0,
    )


def _model_members(warehouse) -> set[int]:
    members = set()
    for emails, phones in warehouse.query("select emails, phones from activation.audience"):
        members |= {email_member(email) for email in emails}
        members |= {phone_member(phone, "US") for phone in ids.identifier_values(phones, "phones", [])}
    return members


def test_replace_through_the_engine_clears_strangers_then_adds_and_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = MetaFake()
    strangers = [ids.sha256_hex(f"stranger{n}@example.net") for n in range(300)]
    service.prefill(AUDIENCE, strangers)
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.audience as select 'cus_' || n as customer_id, "
        "['p' || n || '@example.org', 'P' || n || '.alt@Example.org'] as emails, "
        "case when n % 3 = 0 then '(650) 555-' || lpad(cast(n as varchar), 4, '0') end as phones "
        "from range(1, 2501) as t(n)"
    )
    monkeypatch.setenv("META_ACCESS_TOKEN", service.token)
    with FakeServer(service) as server:
        engine = SyncWarehouse(warehouse.target)
        try:
            first = run_sync(engine, _sync(server))
            assert first.confirmed == 2500
            assert service.members(AUDIENCE) == _model_members(warehouse)
            assert member_id(strangers[0]) not in service.members(AUDIENCE)
            warehouse.execute(
                "delete from activation.audience where customer_id in ('cus_1', 'cus_2', 'cus_3')"
            )
            warehouse.execute(
                "insert into activation.audience values ('cus_new', ['new@example.org'], null), "
                "('cus_junk', ['junk'], null)"
            )
            with pytest.raises(PartialFailure) as partial:
                run_sync(engine, _sync(server))
            summary = partial.value.summary
            assert (summary.diff.added, summary.diff.removed, summary.rejected) == (2, 3, 1)
        finally:
            engine.close()
    warehouse.execute("delete from activation.audience where customer_id = 'cus_junk'")
    assert service.members(AUDIENCE) == _model_members(warehouse)
    posts = [path for method, path in service.requests_seen if method == "POST"]
    assert (
        sum(path.endswith("/usersreplace") for path in posts) == 2
    )  # one batch + the closing last_batch_flag


def test_mass_replace_of_20000_people_through_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = MetaFake()
    service.prefill(AUDIENCE, [ids.sha256_hex(f"old{n}@example.net") for n in range(5000)])
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.audience as select 'cus_' || n as customer_id, ['m' || n || '@example.org'] as emails, "
        "cast(null as varchar) as phones from range(20000) as t(n)"
    )
    monkeypatch.setenv("META_ACCESS_TOKEN", service.token)
    with FakeServer(service) as server:
        engine = SyncWarehouse(warehouse.target)
        try:
            assert run_sync(engine, _sync(server)).confirmed == 20000
        finally:
            engine.close()
    assert service.members(AUDIENCE) == _model_members(warehouse)
    assert service.audiences[AUDIENCE].session is None


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_audience_add_then_audience_remove_through_the_engine(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = fresh_warehouse(kind, request, tmp_path, "cdp_meta")
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.audience as select cast('cus_' || n as varchar) as customer_id, "
        "array['a' || n || '@example.org', 'b' || n || '@example.org'] as emails, "
        "cast(null as varchar) as phones from generate_series(1, 300) as t(n)"
    )
    warehouse.execute(
        "create table activation.leavers as select * from activation.audience where customer_id < 'cus_2'"
    )
    service = MetaFake()
    monkeypatch.setenv("META_ACCESS_TOKEN", service.token)
    with FakeServer(service) as server:
        engine = SyncWarehouse(warehouse.target)
        try:
            assert run_sync(engine, _sync(server, Mode.AUDIENCE_ADD)).confirmed == 300
            assert service.members(AUDIENCE) == _model_members(warehouse)
            leavers = dataclasses.replace(
                _sync(server, Mode.AUDIENCE_REMOVE),
                name="meta_leavers",
                model="leavers",
                relation=Relation(None, "activation", "leavers"),
            )
            removed = run_sync(engine, leavers)
        finally:
            engine.close()
    gone = {row[0] for row in warehouse.query("select customer_id from activation.leavers")}
    assert removed.confirmed == len(gone) > 100
    warehouse.execute(
        "delete from activation.audience where customer_id in (select customer_id from activation.leavers)"
    )
    assert service.members(AUDIENCE) == _model_members(warehouse)
    assert not any("usersreplace" in path for _, path in service.requests_seen)
