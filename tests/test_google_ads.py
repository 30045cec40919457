"""Google Ads Customer Match destination against its local fake: request shape, the identifier limit per
request, partial failures mapped to rows, RESOURCE_EXHAUSTED retries, removes, the vendor's replace on a list
full of strangers, config validation, per-row rejects of invalid identifiers, and runs through the engine."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import new_duckdb_warehouse
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.google_ads import GoogleAdsDestination
from reverse_etl.destinations.identifiers import merged
from reverse_etl.errors import (
    ConfigError,
    DestinationAuthError,
    FatalDestinationError,
    PartialFailure,
    RetryableDestinationError,
)
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sandbox.google_ads import GoogleAdsFake, member_key
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

CUSTOMER, USER_LIST = "1234567890", "5550001"
CONSENT = {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def email_key(email: str) -> int:
    return member_key({"hashedEmail": sha(email)})


@pytest.fixture
def google():
    service = GoogleAdsFake()
    with FakeServer(service) as server:
        yield service, server


def options(server: FakeServer, **extra) -> dict:
    return {
        "base_url": server.url,
        "customer_id": "123-456-7890",
        "user_list_id": USER_LIST,
        "consent": CONSENT,
        **extra,
    }


def secrets(service: GoogleAdsFake, token: str | None = None):
    values = {
        "GOOGLE_ADS_ACCESS_TOKEN": token or service.token,
        "GOOGLE_ADS_DEVELOPER_TOKEN": service.developer_token,
    }
    return lambda name: values[name]


def destination(service: GoogleAdsFake, server: FakeServer, client: HttpClient | None = None, **extra):
    return GoogleAdsDestination(
        options(server, **extra), secrets(service), client or HttpClient(retry=RetryPolicy(base_delay=0.01))
    )


def people(count: int, start: int = 0, operation: Operation = Operation.ADD) -> list[Record]:
    return [
        Record(key=f"cus_{n}", fields={"emails": [f"person{n}@example.org"]}, operation=operation)
        for n in range(start, start + count)
    ]


def sync_all(target: GoogleAdsDestination, mode: Mode, records: list[Record], previously_synced: int = 0):
    target.begin_run(mode, previously_synced)
    outcome = BatchResult()
    size = target.batch_size()
    for start in range(0, len(records), size):
        merged(outcome, target.write_batch(records[start : start + size]))
    target.finish_run(mode, success=True)
    return outcome


def test_requests_carry_one_hashed_identifier_per_user_identifier(google) -> None:
    service, server = google
    target = destination(service, server, login_customer_id="999-888-7777")
    person = Record(
        key="cus_1",
        fields={
            "emails": " Jane.Doe@GoogleMail.com ; jane@example.org",
            "phones": ["+1 (415) 555-0100"],
            "first_name": " Jane ",
            "last_name": "Doe",
            "country_code": "us",
            "postal_code": "94105",
        },
        operation=Operation.ADD,
    )
    create, add = target.plan_batch([person])
    assert create.url == f"{server.url}/v26/customers/{CUSTOMER}/offlineUserDataJobs:create"
    assert create.json == {
        "job": {
            "type": "CUSTOMER_MATCH_USER_LIST",
            "customerMatchUserListMetadata": {
                "userList": f"customers/{CUSTOMER}/userLists/{USER_LIST}",
                "consent": {"adUserData": "GRANTED", "adPersonalization": "DENIED"},
            },
        }
    }
    assert add.url.endswith(":addOperations") and add.json["enablePartialFailure"] is True
    expected = [
        {"hashedEmail": sha("janedoe@googlemail.com")},
        {"hashedEmail": sha("jane@example.org")},
        {"hashedPhoneNumber": sha("+14155550100")},
        {
            "addressInfo": {
                "hashedFirstName": sha("jane"),
                "hashedLastName": sha("doe"),
                "countryCode": "US",
                "postalCode": "94105",
            }
        },
    ]
    assert add.json["operations"] == [{"create": {"userIdentifiers": expected}}]
    assert add.headers["developer-token"] == service.developer_token
    assert add.headers["login-customer-id"] == "9998887777"
    shown = add.describe()
    assert service.token not in shown and service.developer_token not in shown

    outcome = sync_all(target, Mode.AUDIENCE_ADD, [person])
    assert [result.ok for result in outcome.results] == [True]
    assert service.members(CUSTOMER, USER_LIST) == {member_key(identifier) for identifier in expected}
    (job,) = service.jobs.values()
    assert job.status == "SUCCESS" and job.consent == {"adUserData": "GRANTED", "adPersonalization": "DENIED"}


def test_a_batch_is_split_at_100000_identifiers_per_request(google) -> None:
    service, server = google
    wide = [
        Record(
            key=f"cus_{n}",
            fields={"emails": [f"p{n}.{i}@example.org" for i in range(20)]},
            operation=Operation.ADD,
        )
        for n in range(5001)
    ]
    target = destination(service, server)
    requests = target.plan_batch(wide)
    assert [len(r.json["operations"]) for r in requests[1:]] == [5000, 1]
    outcome = sync_all(target, Mode.AUDIENCE_ADD, wide)
    assert len(outcome.confirmed) == 5001 and service.add_requests == 2
    assert len(service.members(CUSTOMER, USER_LIST)) == 100_020

    # The fake refuses one identifier more than the limit, as Google does, and applies nothing of it.
    job = target.http.send(target.create_request()).json()["resourceName"]
    operations = [
        {"create": {"userIdentifiers": [{"hashedEmail": sha(f"x{n}@example.org")}]}} for n in range(100_001)
    ]
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(target.add_operations_request(job, operations))
    error = json.loads(refused.value.body)["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["errors"][0]["errorCode"] == {
        "offlineUserDataJobError": "TOO_MANY_USER_IDENTIFIERS"
    }
    assert service.jobs[job].operations == 0


@pytest.mark.parametrize("mode", [Mode.AUDIENCE_ADD, Mode.AUDIENCE_REPLACE])
def test_partial_failures_are_mapped_to_the_failing_rows(mode: Mode) -> None:
    service = GoogleAdsFake(Faults(seed=11, record_reject_rate=0.25))
    records = people(200)
    # The fake's seeded reject is decided per first identifier; these are the rows it will refuse.
    refused = {r.key for r in records if service.would_reject({"hashedEmail": sha(r.fields["emails"][0])})}
    assert 20 < len(refused) < 80
    with FakeServer(service) as server:
        outcome = sync_all(destination(service, server), mode, records)
    rejected = {result.key: result for result in outcome.rejected}
    assert set(rejected) == refused
    assert all(r.retryable and "databaseError.CONCURRENT_MODIFICATION" in r.error for r in rejected.values())
    confirmed = {int(result.key.split("_")[1]) for result in outcome.confirmed}
    assert service.members(CUSTOMER, USER_LIST) == {email_key(f"person{n}@example.org") for n in confirmed}


def test_resource_exhausted_is_retried_until_every_row_lands() -> None:
    service = GoogleAdsFake(requests_per_window=2, window_seconds=0.2)
    with FakeServer(service) as server:
        client = HttpClient(retry=RetryPolicy(max_attempts=40, base_delay=0.02, max_delay=0.1))
        outcome = sync_all(
            destination(service, server, client, batch_size=25), Mode.AUDIENCE_ADD, people(300)
        )
        assert len(outcome.confirmed) == 300
        assert service.throttled > 0 and client.stats["throttled"] == service.throttled
        assert len(service.members(CUSTOMER, USER_LIST)) == 300

        impatient = HttpClient(retry=RetryPolicy(max_attempts=1))
        target = destination(service, server, impatient)
        for _ in range(3):
            try:
                target.http.send(target.create_request())
            except RetryableDestinationError as error:
                status, body = error.status, json.loads(error.body)["error"]
                break
        else:
            pytest.fail("the fake never answered 429")
    assert status == 429 and body["status"] == "RESOURCE_EXHAUSTED"
    assert body["details"][0]["errors"][0]["errorCode"] == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}


def test_removes_go_to_a_job_of_their_own(google) -> None:
    service, server = google
    sync_all(destination(service, server), Mode.AUDIENCE_ADD, people(50))
    outcome = sync_all(
        destination(service, server), Mode.AUDIENCE_REMOVE, people(20, operation=Operation.REMOVE)
    )
    assert len(outcome.confirmed) == 20
    assert service.members(CUSTOMER, USER_LIST) == {
        email_key(f"person{n}@example.org") for n in range(20, 50)
    }
    # A row that left the model is removed by the identifiers confirmed for it (its destination_id).
    added = sync_all(destination(service, server), Mode.AUDIENCE_ADD, people(1, start=7))
    gone = Record("cus_7", {}, Operation.REMOVE, destination_id=added.results[0].destination_id)
    never_sent = Record("cus_x", {}, Operation.REMOVE)
    mixed = destination(service, server)
    result = sync_all(
        mixed, Mode.AUDIENCE_REPLACE, [*people(1, start=60), gone, never_sent], previously_synced=30
    )
    assert all(r.ok for r in result.results)
    members = service.members(CUSTOMER, USER_LIST)
    assert email_key("person7@example.org") not in members and email_key("person60@example.org") in members
    kinds = sorted((job.has_create, job.has_remove) for job in list(service.jobs.values())[-2:])
    assert kinds == [(False, True), (True, False)]


def test_the_fake_enforces_googles_rules(google) -> None:
    service, server = google
    target = destination(service, server)
    client = HttpClient(retry=RetryPolicy(max_attempts=1))
    job = client.send(target.create_request()).json()["resourceName"]

    def add(operations, job=job):
        return client.send(target.add_operations_request(job, operations)).json()

    good = sha("a@example.org")
    answer = add(
        [
            {"create": {"userIdentifiers": [{"hashedEmail": good}]}},
            {"create": {"userIdentifiers": [{"hashedEmail": "a@example.org"}]}},
            {"create": {"userIdentifiers": [{"hashedEmail": good.upper()}]}},
            {"remove": {"userIdentifiers": [{"hashedEmail": good}]}},
            {"removeAll": True},
        ]
    )
    errors = answer["partialFailureError"]["details"][0]["errors"]
    found = {
        e["location"]["fieldPathElements"][0]["index"]: next(iter(e["errorCode"].values())) for e in errors
    }
    assert found == {
        1: "INVALID_SHA256_FORMAT",
        2: "INVALID_SHA256_FORMAT",
        3: "CONFLICTING_OPERATION",
        4: "INVALID_OPERATION_ORDER",
    }
    with pytest.raises(FatalDestinationError, match="Oneof field"):
        add([{"create": {"userIdentifiers": [{"hashedEmail": good, "hashedPhoneNumber": good}]}}])
    client.send(target.run_request(job))
    with pytest.raises(FatalDestinationError, match="JOB_ALREADY_STARTED"):
        add([{"create": {"userIdentifiers": [{"hashedEmail": good}]}}])
    assert service.members(CUSTOMER, USER_LIST) == {email_key("a@example.org")}

    no_consent = target.create_request()
    del no_consent.json["job"]["customerMatchUserListMetadata"]["consent"]
    with pytest.raises(FatalDestinationError) as refused:
        client.send(no_consent)
    assert "consent.adUserData" in refused.value.body
    wrong = HttpRequest("POST", target.create_request().url, {"Authorization": "Bearer nope"}, json={})
    with pytest.raises(DestinationAuthError) as unauthenticated:
        client.send(wrong)
    assert unauthenticated.value.status == 401 and "UNAUTHENTICATED" in unauthenticated.value.body
    no_developer_token = HttpRequest(
        "POST", target.create_request().url, {"Authorization": f"Bearer {service.token}"}, json={}
    )
    with pytest.raises(FatalDestinationError, match="DEVELOPER_TOKEN_PARAMETER_MISSING"):
        client.send(no_developer_token)
    bad_developer_token = HttpRequest(
        "POST",
        target.create_request().url,
        {"Authorization": f"Bearer {service.token}", "developer-token": "guess"},
        json={},
    )
    with pytest.raises(DestinationAuthError) as invalid_developer_token:
        client.send(bad_developer_token)
    assert "DEVELOPER_TOKEN_INVALID" in invalid_developer_token.value.body
    assert "guess" not in str(invalid_developer_token.value), "the refused credential is never shown"


def test_a_row_sends_every_valid_identifier_and_is_rejected_only_when_none_is_left(google) -> None:
    service, server = google
    rows = [
        Record("ok_1", {"emails": "one@example.org"}, Operation.ADD),
        # A good email, one that is no address, a valid phone: the good email and the phone are sent.
        Record(
            "mixed",
            {"emails": ["two@example.org", "not-an-email"], "phones": "+1 415 555 0101"},
            Operation.ADD,
        ),
        Record("bad_phone", {"phones": "12"}, Operation.ADD),
        Record("national_phone", {"phones": "(415) 555-0100"}, Operation.ADD),
        Record("nothing", {"emails": None, "phones": ""}, Operation.ADD),
        Record("half_address", {"first_name": "Jo", "last_name": "Doe"}, Operation.ADD),
        Record("too_many", {"emails": [f"e{i}@example.org" for i in range(21)]}, Operation.ADD),
        Record("ok_2", {"phones": "+44 20 7946 0958"}, Operation.ADD),
    ]
    outcome = sync_all(destination(service, server), Mode.AUDIENCE_ADD, rows)
    errors = {r.key: r.error for r in outcome.rejected}
    assert set(errors) == {"bad_phone", "national_phone", "nothing", "half_address"}
    assert "'12'" in errors["bad_phone"] and "no valid email, phone or address" in errors["nothing"]
    assert "missing country_code, postal_code" in errors["half_address"]
    assert outcome.dropped == {
        "email: not an address": 1,
        "phone: no country code": 2,
        "google_ads first_name: no postal code/country": 1,
        "google_ads last_name: no postal code/country": 1,
        "google_ads: more than 20 identifiers per person": 1,
    }
    assert service.members(CUSTOMER, USER_LIST) == {
        email_key("one@example.org"),
        email_key("two@example.org"),
        member_key({"hashedPhoneNumber": sha("+14155550101")}),
        *(email_key(f"e{i}@example.org") for i in range(20)),
        member_key({"hashedPhoneNumber": sha("+442079460958")}),
    }
    # With a default region, a national number is valid.
    regional = destination(service, server, default_region="US")
    assert sync_all(regional, Mode.AUDIENCE_ADD, [rows[3]]).results[0].ok


def test_an_incomplete_address_is_not_sent_and_each_part_is_counted(google) -> None:
    """Customer Match takes an AddressInfo only with first name, last name, country code and postal code
    together; with one missing the address is not sent. The row's email and phone still go."""
    service, server = google
    rows = [
        Record(
            "no_postal",
            {"emails": "a@example.org", "first_name": "Ana", "last_name": "Lima", "country_code": "BR"},
            Operation.ADD,
        ),
        Record(
            "no_place",
            {"emails": "b@example.org", "first_name": "Bo", "last_name": "Berg", "postal_code": None},
            Operation.ADD,
        ),
        Record(
            "bad_country",
            {
                "phones": "+46 8 123 456 78",
                "first_name": "Cy",
                "last_name": "Ng",
                "country_code": "Sweden",
                "postal_code": "111 22",
            },
            Operation.ADD,
        ),
        Record(
            "complete",
            {
                "emails": "d@example.org",
                "first_name": " Dee ",
                "last_name": "Ortiz",
                "country_code": "us",
                "postal_code": "94105",
            },
            Operation.ADD,
        ),
    ]
    target = destination(service, server)
    _, add = target.plan_batch(rows)
    sent = [operation["create"]["userIdentifiers"] for operation in add.json["operations"]]
    address = {
        "hashedFirstName": sha("dee"),
        "hashedLastName": sha("ortiz"),
        "countryCode": "US",
        "postalCode": "94105",
    }
    assert sent == [
        [{"hashedEmail": sha("a@example.org")}],
        [{"hashedEmail": sha("b@example.org")}],
        [{"hashedPhoneNumber": sha("+46812345678")}],
        [{"hashedEmail": sha("d@example.org")}, {"addressInfo": address}],
    ]
    outcome = sync_all(target, Mode.AUDIENCE_ADD, rows)
    assert len(outcome.confirmed) == 4
    assert outcome.dropped == {
        "google_ads first_name: no postal code": 1,
        "google_ads last_name: no postal code": 1,
        "google_ads country_code: no postal code": 1,
        "google_ads first_name: no postal code/country": 1,
        "google_ads last_name: no postal code/country": 1,
        "country_code: not a two-letter code": 1,
        "google_ads first_name: no country": 1,
        "google_ads last_name: no country": 1,
        "google_ads postal_code: no country": 1,
    }
    assert member_key({"addressInfo": address}) in service.members(CUSTOMER, USER_LIST)


def test_emails_are_normalized_by_googles_written_rule(google) -> None:
    """Customer Match: lower-case and remove whitespace (leading, trailing and in between); in gmail.com and
    googlemail.com addresses remove every '.' before the domain, keeping a '+' tag. No rule removes a trailing dot:
    such a value is no address and is left out."""
    service, server = google
    row = Record(
        "cus_1",
        {
            "emails": [
                "  Jane.Doe+Ads@GMAIL.com ",
                "J.Doe@GoogleMail.com",
                "JANE@EXAMPLE.ORG",
                "jane doe@example.org",
                "jane@example.org.",
            ]
        },
        Operation.ADD,
    )
    target = destination(service, server)
    _, add = target.plan_batch([row])
    expected = [
        {"hashedEmail": sha(email)}
        for email in (
            "janedoe+ads@gmail.com",
            "jdoe@googlemail.com",
            "jane@example.org",
            "janedoe@example.org",
        )
    ]
    assert add.json["operations"] == [{"create": {"userIdentifiers": expected}}]
    outcome = sync_all(target, Mode.AUDIENCE_ADD, [row])
    assert outcome.results[0].ok and outcome.dropped == {"email: not an address": 1}
    assert service.members(CUSTOMER, USER_LIST) == {member_key(identifier) for identifier in expected}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"customer_id": "12a-456"}, "customer_id"),
        ({"user_list_id": None}, "user_list_id"),
        ({"login_customer_id": "abc"}, "login_customer_id"),
        ({"consent": None}, "consent is required"),
        (
            {"consent": {"ad_user_data": "GRANTED", "ad_personalization": "maybe"}},
            "consent.ad_personalization",
        ),
        ({"consent": {**CONSENT, "ad_storage": "GRANTED"}}, "ad_storage"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"api_version": "26"}, "api_version"),
        ({"default_region": "USA"}, "default_region"),
    ],
)
def test_bad_config_is_refused_at_start_up(google, change: dict, message: str) -> None:
    service, server = google
    with pytest.raises(ConfigError, match=message):
        GoogleAdsDestination({**options(server), **change}, secrets(service), HttpClient())


def test_credentials_come_from_secrets_and_are_never_shown(google) -> None:
    service, server = google

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="GOOGLE_ADS_ACCESS_TOKEN"):
        GoogleAdsDestination(options(server), missing, HttpClient())
    target = destination(service, server)
    assert service.token not in repr(target.config) and service.developer_token not in repr(target.config)
    denied = GoogleAdsDestination(options(server), secrets(service, token="expired"), HttpClient())
    with pytest.raises(DestinationAuthError, match="HTTP 401 .*UNAUTHENTICATED"):
        sync_all(denied, Mode.AUDIENCE_ADD, people(3))
    with pytest.raises(ConfigError, match="not Customer Match identifiers"):
        target.write_batch([Record("k", {"email": "a@example.org"}, Operation.ADD)])


def _engine_sync(server: FakeServer, mode: Mode = Mode.AUDIENCE_REPLACE) -> SyncConfig:
    return SyncConfig(
        name="google_audience",
        model="audience",
        relation=Relation(None, "activation", "audience"),
        destination="google_ads",
        mode=mode,
        primary_key="customer_id",
        fields={"emails": "emails", "phones": "phones"},
        options={**options(server), "token_env": "T_GADS", "developer_token_env": "T_GADS_DEV"},
        max_change_share=0.5,
    )


def test_replace_through_the_engine_ends_equal_to_the_model(
    google, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = google
    monkeypatch.setenv("T_GADS", service.token)
    monkeypatch.setenv("T_GADS_DEV", service.developer_token)
    service.prefill(CUSTOMER, USER_LIST, 5_000, seed=1)
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    # Emails as a list column, phones as a delimited string; every 1000th row has an invalid phone.
    warehouse.execute(
        "create table activation.audience as select 'cus_' || n as customer_id, "
        "['p' || n || '@example.org', 'q' || n || '@example.org'] as emails, "
        "case when n % 1000 = 0 then 'call me' else '+1415' || lpad(cast(2000000 + n as varchar), 7, '0') end as phones "
        "from range(1, 20001) as t(n)"
    )

    def expected() -> set[int]:
        rows = warehouse.query("select emails, phones from activation.audience where emails <> ['junk']")
        keys = set()
        for emails, phone in rows:
            keys |= {email_key(email) for email in emails}
            if phone != "call me":
                keys.add(member_key({"hashedPhoneNumber": sha(phone)}))
        return keys

    sync = _engine_sync(server)
    engine = SyncWarehouse(warehouse.target)
    try:
        # The 20 rows with an invalid phone are sent with their emails (the phone is left out).
        first = run_sync(engine, sync)
        assert first.confirmed == 20_000 and first.rejected == 0
        assert service.members(CUSTOMER, USER_LIST) == expected()

        warehouse.execute("delete from activation.audience where customer_id in ('cus_1', 'cus_2', 'cus_3')")
        warehouse.execute(
            "insert into activation.audience values ('cus_new', ['new@example.org'], '+14155550199'), "
            "('cus_junk', ['junk'], 'call me')"
        )
        with pytest.raises(PartialFailure) as second:
            run_sync(engine, sync)
        summary = second.value.summary
        # 3 removed, 1 new, and a row with no valid identifier at all refused.
        assert summary.diff.removed == 3 and (summary.confirmed, summary.rejected) == (4, 1)
        rejects = warehouse.query("select error from cdp_sync.rejects where sync_name = 'google_audience'")
        assert "'junk'" in rejects[0][0] and "'call me'" in rejects[0][0]
    finally:
        engine.close()
    assert service.members(CUSTOMER, USER_LIST) == expected()


def test_a_replace_of_an_empty_model_clears_a_list_it_knows_nothing_of(google) -> None:
    service, server = google
    service.prefill(CUSTOMER, USER_LIST, 300)
    target = destination(service, server)
    # An interrupted run must not clear the list: nothing of the model was sent.
    target.begin_run(Mode.AUDIENCE_REPLACE, previously_synced=0)
    target.finish_run(Mode.AUDIENCE_REPLACE, success=False)
    assert len(service.members(CUSTOMER, USER_LIST)) == 300 and not service.jobs
    sync_all(target, Mode.AUDIENCE_REPLACE, [], previously_synced=0)
    assert service.members(CUSTOMER, USER_LIST) == set()
    # A sync that has confirmed rows before does not clear the list again.
    service.prefill(CUSTOMER, USER_LIST, 10)
    sync_all(destination(service, server), Mode.AUDIENCE_REPLACE, people(5), previously_synced=5)
    assert len(service.members(CUSTOMER, USER_LIST)) == 15


def test_an_incomplete_address_is_left_out_unless_it_is_all_there_is() -> None:
    from reverse_etl.destinations.customer_match import user_identifiers
    from reverse_etl.destinations.identifiers import InvalidIdentifier

    partial = {"first_name": "Ana", "last_name": "Lima", "country_code": "BR", "postal_code": None}
    dropped: list = []
    assert user_identifiers({"emails": "ana@example.com", **partial}, dropped=dropped) == [
        {"hashedEmail": hashlib.sha256(b"ana@example.com").hexdigest()}
    ]
    assert [reason for reason, _ in dropped] == [
        "google_ads first_name: no postal code",
        "google_ads last_name: no postal code",
        "google_ads country_code: no postal code",
    ]
    complete = user_identifiers({"emails": "ana@example.com", **partial, "postal_code": "01310-100"})
    assert complete[1]["addressInfo"]["postalCode"] == "01310-100"
    with pytest.raises(InvalidIdentifier, match="missing postal_code"):
        user_identifiers(partial)


def test_rows_of_a_job_that_never_ran_are_sent_again(
    google, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google applies a job's operations only when the job runs (finish_run): a run that dies before that must
    not record its rows as synced, and the next run must land them."""
    service, server = google
    monkeypatch.setenv("T_GADS", service.token)
    monkeypatch.setenv("T_GADS_DEV", service.developer_token)
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.audience as select 'cus_' || n as customer_id, "
        "'p' || n || '@example.org' as emails, cast(null as varchar) as phones from range(1, 301) as t(n)"
    )
    sync = _engine_sync(server)

    class DiesBeforeTheJobRuns(GoogleAdsDestination):
        def finish_run(self, mode: Mode, success: bool) -> None:
            raise RetryableDestinationError("connection reset while running the job")

    engine = SyncWarehouse(warehouse.target)
    try:
        dying = DiesBeforeTheJobRuns(sync.options, lambda name: os.environ[name], HttpClient())
        with pytest.raises(RetryableDestinationError):
            run_sync(engine, sync, destination=dying)
        assert service.members(CUSTOMER, USER_LIST) == set()
        statuses = dict(warehouse.query("select status, count(*) from cdp_sync.snapshots group by status"))
        assert statuses == {"accepted": 300}

        summary = run_sync(engine, sync)
        assert (summary.diff.added, summary.confirmed) == (300, 300)
        assert service.members(CUSTOMER, USER_LIST) == {email_key(f"p{n}@example.org") for n in range(1, 301)}
        assert warehouse.query("select status, count(*) from cdp_sync.snapshots group by status") == [
            ("synced", 300)
        ]
    finally:
        engine.close()
