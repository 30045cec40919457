"""The Trade Desk CRM data segments against the local fake: drop request and upload shape, Base64 SHA-256 lines by
PiiType, the 10,000-line split, per-row rejects, 429s, removes, Replace (a pre-filled segment ends equal to the
model) and bad config, through the destination and through the sync engine."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from conftest import new_duckdb_warehouse
from reverse_etl.destinations import identifiers as ids
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.trade_desk import EMAIL_PII, PHONE_PII, TradeDeskDestination
from reverse_etl.errors import ConfigError, DestinationAuthError, FatalDestinationError, PartialFailure
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.trade_desk import TradeDeskFake, member_id
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

SEGMENT = "sandboxcrm1"


@pytest.fixture
def ttd():
    service = TradeDeskFake()
    with FakeServer(service) as server:
        yield service, server


def destination(
    server: FakeServer, token: str = "sandbox-ttd-token", client: HttpClient | None = None, **options: object
) -> TradeDeskDestination:
    return TradeDeskDestination(
        {"base_url": server.url, "advertiser_id": "sandboxadv", "crm_data_id": SEGMENT, **options},
        lambda name: token,
        client or HttpClient(retry=RetryPolicy(base_delay=0.01, max_delay=0.05)),
    )


def people(count: int, start: int = 0, operation: Operation = Operation.ADD) -> list[Record]:
    return [
        Record(f"cus_{n}", {"emails": [f"Person.{n}@Example.org"], "phones": None}, operation)
        for n in range(start, start + count)
    ]


def uid2(text: str) -> str:
    """The UID2 hash: Base64 of the SHA-256 digest of the normalized value."""
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def email_member(email: str) -> int:
    return member_id(ids.sha256_base64(ids.ttd_email(email)))


def phone_member(phone: str, region: str | None = None) -> int:
    return member_id(ids.sha256_base64(ids.ttd_phone(phone, region)))


def test_one_drop_per_pii_type_with_base64_sha256_lines(ttd) -> None:
    service, server = ttd
    person = Record(
        "cus_1",
        {"emails": "Jane.Doe+ads@gmail.com; jane@work.example", "phones": ["+1 650 555 0101"]},
        Operation.ADD,
    )
    target = destination(server)
    drop, upload, phone_drop, phone_upload = target.plan_batch([person])
    assert drop.method == "POST" and drop.url == f"{server.url}/v3/crmdata/segment/sandboxadv/{SEGMENT}"
    assert drop.json == {"PiiType": EMAIL_PII, "MergeMode": "Add", "RetentionEnabled": True}
    assert upload.method == "PUT" and upload.headers["Content-Type"] == "text/plain"
    assert (
        upload.data == f"{ids.sha256_base64('janedoe@gmail.com')}\n{ids.sha256_base64('jane@work.example')}\n"
    )
    assert (
        phone_drop.json["PiiType"] == PHONE_PII
        and phone_upload.data == ids.sha256_base64("+16505550101") + "\n"
    )
    assert "sandbox-ttd-token" not in drop.masked().describe()
    outcome = target.write_batch([person])
    assert [result.ok for result in outcome.results] == [True]
    assert service.members(SEGMENT) == {
        email_member("janedoe@gmail.com"),
        email_member("jane@work.example"),
        phone_member("+16505550101"),
    }


def test_drops_split_at_10000_lines_and_the_fake_refuses_more(ttd) -> None:
    service, server = ttd
    records = [
        Record(f"cus_{n}", {"emails": [f"a{n}@example.org", f"b{n}@example.org"]}, Operation.ADD)
        for n in range(5001)
    ]
    target = destination(server)
    uploads = [request for request in target.plan_batch(records) if request.method == "PUT"]
    assert [len(request.data.splitlines()) for request in uploads] == [10_000, 2]
    assert len(target.write_batch(records).confirmed) == 5001
    assert len(service.members(SEGMENT)) == 10_002
    client = HttpClient(retry=RetryPolicy(max_attempts=1))
    answer = client.send(target._drop_request(EMAIL_PII, "Add")).json()
    lines = [ids.sha256_base64(f"x{n}@example.org") for n in range(10_001)]
    with pytest.raises(FatalDestinationError) as refused:
        client.send(target._upload_request(answer["Url"], lines))
    assert refused.value.status == 400 and "at most 10,000" in refused.value.body


def test_the_fake_refuses_plain_or_hex_lines_and_reused_urls(ttd) -> None:
    service, server = ttd
    target = destination(server)
    client = HttpClient(retry=RetryPolicy(max_attempts=1))
    for bad in ("plain@example.org", ids.sha256_hex("a@example.org")):
        url = client.send(target._drop_request(EMAIL_PII, "Add")).json()["Url"]
        with pytest.raises(FatalDestinationError) as refused:
            client.send(target._upload_request(url, [ids.sha256_base64("ok@example.org"), bad]))
        assert "Line 2 is not the Base64 SHA-256" in refused.value.body
    url = client.send(target._drop_request(EMAIL_PII, "Add")).json()["Url"]
    client.send(target._upload_request(url, [ids.sha256_base64("ok@example.org")]))
    with pytest.raises(FatalDestinationError, match="already used"):
        client.send(target._upload_request(url, [ids.sha256_base64("ok@example.org")]))
    assert service.members(SEGMENT) == {email_member("ok@example.org")}
    with pytest.raises(FatalDestinationError) as invalid:
        client.send(target._drop_request("Email", "Overwrite"))
    assert '"Property": "PiiType"' in invalid.value.body and '"Property": "MergeMode"' in invalid.value.body


def test_a_row_sends_every_valid_identifier_and_is_rejected_only_when_none_is_left(ttd) -> None:
    service, server = ttd
    rows = [
        # A good email, one that is no address and a valid phone: the good email and the phone are sent.
        Record(
            "cus_mixed",
            {"emails": ["mixed@example.org", "nobody at example.org"], "phones": "+1 650 555 0111"},
            Operation.ADD,
        ),
        Record("cus_bad_phone", {"emails": ["fine@example.org"], "phones": "555"}, Operation.ADD),
        Record("cus_bad_email", {"emails": ["nobody at example.org"]}, Operation.ADD),
        Record("cus_gmail", {"emails": ["+tag@gmail.com"]}, Operation.ADD),
        Record("cus_wrong_type", {"emails": 42}, Operation.ADD),
    ]
    outcome = destination(server).write_batch([*people(2), *rows])
    errors = {result.key: result.error for result in outcome.rejected}
    assert set(errors) == {"cus_bad_email", "cus_gmail", "cus_wrong_type"}
    assert "nobody at example.org" in errors["cus_bad_email"] and "gmail.com" in errors["cus_gmail"]
    assert "list or a ';'-separated string" in errors["cus_wrong_type"]
    assert outcome.dropped == {
        "email: not an address": 3,
        "phone: no country code": 1,
        "emails: not a list or text": 1,
    }
    assert service.members(SEGMENT) == {
        *(email_member(f"person.{n}@example.org") for n in range(2)),
        email_member("mixed@example.org"),
        phone_member("+16505550111"),
        email_member("fine@example.org"),
    }


def test_emails_are_normalized_by_the_uid2_rule(ttd) -> None:
    """UID2: remove leading and trailing spaces, lower-case; in gmail.com addresses only, remove every '.' and a
    '+' with everything after it. Whitespace inside is not removed (the value is no address) and no rule removes
    a trailing dot; googlemail.com keeps its dots and tags."""
    service, server = ttd
    row = Record(
        "cus_1",
        {
            "emails": [
                "  Jane.Doe+Ads@GMAIL.com ",
                "J.Doe+x@googlemail.com",
                "JANE@EXAMPLE.ORG",
                "jane doe@example.org",
                "jane@example.org.",
            ]
        },
        Operation.ADD,
    )
    target = destination(server)
    _, upload = target.plan_batch([row])
    expected = [uid2("janedoe@gmail.com"), uid2("j.doe+x@googlemail.com"), uid2("jane@example.org")]
    assert upload.data == "\n".join(expected) + "\n"
    outcome = target.write_batch([row])
    assert outcome.results[0].ok and outcome.dropped == {"email: not an address": 2}
    assert service.members(SEGMENT) == {member_id(line) for line in expected}


def test_name_or_address_fields_are_refused_uid2_has_no_such_identifiers(ttd) -> None:
    _, server = ttd
    row = Record("k", {"emails": "a@example.org", "first_name": "Ann", "postal_code": "94025"}, Operation.ADD)
    with pytest.raises(ConfigError, match="first_name, postal_code are not UID2 identifiers"):
        destination(server).write_batch([row])


def test_429s_are_retried_until_every_row_lands() -> None:
    service = TradeDeskFake(limit=3, window_seconds=0.3)
    with FakeServer(service) as server:
        client = HttpClient(retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.3))
        target = destination(server, client=client)
        records = people(40)
        outcome = BatchResult()
        for start in range(0, 40, 5):
            outcome.results += target.write_batch(records[start : start + 5]).results
    assert len(outcome.confirmed) == 40 and len(service.members(SEGMENT)) == 40
    assert service.throttled > 0 and client.stats["throttled"] == service.throttled


def test_seeded_throttling_and_server_errors_are_retried() -> None:
    service = TradeDeskFake(Faults(seed=5, throttle_rate=0.3, server_error_rate=0.2))
    with FakeServer(service) as server:
        client = HttpClient(retry=RetryPolicy(max_attempts=20, base_delay=0.01, max_delay=0.02))
        target = destination(server, client=client)
        records = people(30)
        outcome = BatchResult()
        for start in range(0, 30, 3):
            outcome.results += target.write_batch(records[start : start + 3]).results
    assert len(outcome.confirmed) == 30 and len(service.members(SEGMENT)) == 30
    assert client.stats["throttled"] > 0 and client.stats["retries"] > client.stats["throttled"]


def test_removes_by_fields_and_by_destination_id(ttd) -> None:
    service, server = ttd
    target = destination(server)
    added = {result.key: result.destination_id for result in target.write_batch(people(6)).results}
    assert len(target.write_batch(people(2, operation=Operation.REMOVE)).confirmed) == 2
    gone = [Record("cus_4", {}, Operation.REMOVE, destination_id=added["cus_4"])]
    drop, _ = target.plan_batch(gone)
    assert drop.json["MergeMode"] == "Remove"
    assert len(target.write_batch(gone).confirmed) == 1
    assert service.members(SEGMENT) == {email_member(f"person.{n}@example.org") for n in (2, 3, 5)}
    assert service.segments[SEGMENT].drops_applied == ["Add", "Remove", "Remove"]


def test_a_failed_upload_fails_its_rows_and_replace_waits_for_an_accepted_drop(ttd) -> None:
    service, server = ttd
    service.prefill(SEGMENT, [ids.sha256_base64("stranger@example.net")])
    target = destination(server, token="wrong")
    target.begin_run(Mode.AUDIENCE_REPLACE, previously_synced=0)
    with pytest.raises(DestinationAuthError, match="HTTP 401"):
        target.write_batch(people(3))
    target.config = destination(server).config  # the token fixed: the next batch still replaces
    assert target.plan_batch(people(1))[0].json["MergeMode"] == "Replace"
    assert len(target.write_batch(people(2, start=3)).confirmed) == 2
    assert target.plan_batch(people(1))[0].json["MergeMode"] == "Add"
    assert service.members(SEGMENT) == {email_member(f"person.{n}@example.org") for n in (3, 4)}


def test_bad_config_is_refused_at_start_up(ttd) -> None:
    _, server = ttd
    for options, message in (
        ({"advertiser_id": ""}, "advertiser_id must be"),
        ({"crm_data_id": "a/b"}, "crm_data_id must be"),
        ({"default_region": "gb"}, "default_region must be a two-letter"),
    ):
        with pytest.raises(ConfigError, match=message):
            destination(server, **options)  # type: ignore[arg-type]

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="TTD_AUTH_TOKEN"):
        TradeDeskDestination({"advertiser_id": "a", "crm_data_id": "b"}, missing, HttpClient())
    unknown = destination(server, crm_data_id="nosuchsegment").write_batch(people(1))
    assert "HTTP 404" in unknown.rejected[0].error


def _sync(server: FakeServer) -> SyncConfig:
    return SyncConfig(
        name="ttd_audience",
        model="audience",
        relation=Relation(None, "activation", "audience"),
        destination="trade_desk",
        mode=Mode.AUDIENCE_REPLACE,
        primary_key="customer_id",
        fields={"emails": "emails", "phones": "phones"},
        options={
            "base_url": server.url,
            "advertiser_id": "sandboxadv",
            "crm_data_id": SEGMENT,
            "default_region": "US",
        },
        max_change_share=1.0,
    )


def _model_members(warehouse) -> set[int]:
    members = set()
    for emails, phones in warehouse.query("select emails, phones from activation.audience"):
        members |= {email_member(email) for email in ids.identifier_values(emails, "emails", [])}
        members |= {phone_member(phone, "US") for phone in ids.identifier_values(phones, "phones", [])}
    return members


def test_replace_through_the_engine_clears_strangers_then_adds_and_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = TradeDeskFake()
    service.prefill(SEGMENT, [ids.sha256_base64(f"stranger{n}@example.net") for n in range(200)])
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    # Emails as a ';'-separated string this time, phones as a list.
    warehouse.execute(
        "create table activation.audience as select 'cus_' || n as customer_id, "
        "'p' || n || '@example.org; q.' || n || '@gmail.com' as emails, "
        "case when n % 4 = 0 then ['650555' || lpad(cast(n as varchar), 4, '0')] end as phones "
        "from range(1, 12001) as t(n)"
    )
    monkeypatch.setenv("TTD_AUTH_TOKEN", service.token)
    with FakeServer(service) as server:
        engine = SyncWarehouse(warehouse.target)
        try:
            assert run_sync(engine, _sync(server)).confirmed == 12000
            assert service.members(SEGMENT) == _model_members(warehouse)
            modes = service.segments[SEGMENT].drops_applied
            assert modes[0] == "Replace" and set(modes[1:]) == {"Add"} and len(modes) == 5
            warehouse.execute("delete from activation.audience where customer_id in ('cus_1', 'cus_8')")
            warehouse.execute("insert into activation.audience values ('cus_new', 'new@example.org', null)")
            warehouse.execute("insert into activation.audience values ('cus_junk', 'junk', null)")
            with pytest.raises(PartialFailure) as partial:
                run_sync(engine, _sync(server))
            summary = partial.value.summary
            assert (summary.diff.added, summary.diff.removed, summary.rejected) == (2, 2, 1)
        finally:
            engine.close()
    warehouse.execute("delete from activation.audience where customer_id = 'cus_junk'")
    assert service.members(SEGMENT) == _model_members(warehouse)
    assert "Replace" not in service.segments[SEGMENT].drops_applied[5:]
