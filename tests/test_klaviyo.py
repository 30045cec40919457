"""Klaviyo destination against its local fake: the JSON:API import job and its headers, jobs split at 10,000
profiles and at 5 MB, polling, import errors mapped to rows, E.164 phone numbers, 429s, list removal in
mirror mode through the sync engine, GDPR deletion jobs, and configuration errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from conftest import new_duckdb_warehouse
from match_keys import CHANGED, REMOVED, new_email, people
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.klaviyo import MAX_JOB_BYTES, KlaviyoDestination
from reverse_etl.errors import ConfigError, DestinationAuthError, PartialFailure
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sandbox.klaviyo import KlaviyoFake
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

KEY = "pk_sandbox_klaviyo"
LIST = "SbxLst"


@pytest.fixture
def klaviyo():
    service = KlaviyoFake()
    with FakeServer(service) as server:
        yield service, server


def destination(
    server: FakeServer, key: str = KEY, client: HttpClient | None = None, **options
) -> KlaviyoDestination:
    settings = {"base_url": server.url, "list_id": LIST, "poll_interval_seconds": 0.01, **options}
    return KlaviyoDestination(
        settings, lambda name: key, client or HttpClient(retry=RetryPolicy(base_delay=0.01))
    )


def profiles(count: int, start: int = 0, padding: int = 0) -> list[Record]:
    return [
        Record(
            key=f"cus_{n}",
            fields={
                "email": f"Person{n}@Example.org",
                "external_id": f"cus_{n}",
                "first_name": f"P{n}",
                "city": "Lyon",
                "orders": n,
                "note": "x" * padding,
            },
            operation=Operation.UPSERT,
        )
        for n in range(start, start + count)
    ]


def jobs_received(service: KlaviyoFake) -> list[int]:
    return [len(job["profiles"]) for job in service.jobs.values()]


def test_import_job_request_shape_and_headers(klaviyo) -> None:
    _, server = klaviyo
    (request,) = destination(server).plan_batch(profiles(2))
    assert request.method == "POST" and request.url == f"{server.url}/api/profile-bulk-import-jobs"
    assert request.headers == {
        "Authorization": f"Klaviyo-API-Key {KEY}",
        "revision": "2026-07-15",
        "accept": "application/vnd.api+json",
        "content-type": "application/vnd.api+json",
    }
    data = request.json["data"]
    assert data["type"] == "profile-bulk-import-job"
    assert data["relationships"] == {"lists": {"data": [{"type": "list", "id": LIST}]}}
    assert data["attributes"]["profiles"]["data"][1] == {
        "type": "profile",
        "attributes": {
            "email": "Person1@Example.org",
            "external_id": "cus_1",
            "first_name": "P1",
            "location": {"city": "Lyon"},
            "properties": {"orders": 1, "note": ""},
        },
    }
    without_list = destination(server, list_id=None).plan_batch(profiles(1))[0]
    assert "relationships" not in without_list.json["data"]
    assert KEY not in request.describe() and "Klaviyo-API-Key" not in request.describe()


def test_jobs_are_split_at_10000_profiles_and_polled_until_complete(klaviyo) -> None:
    service, server = klaviyo
    records = profiles(10_001)
    target = destination(server)
    planned = target.plan_batch(records)
    assert [len(r.json["data"]["attributes"]["profiles"]["data"]) for r in planned] == [10_000, 1]
    outcome = target.write_batch(records)
    assert len(outcome.confirmed) == 10_001 and not outcome.rejected
    assert sorted(jobs_received(service)) == [1, 10_000]
    assert all(job["polls"] >= 2 and job["status"] == "complete" for job in service.jobs.values())
    assert len(service.profiles) == 10_001 and len(service.lists[LIST]) == 10_001
    stored = service.profiles[service._find({"email": "person7@example.org"})]
    assert stored["properties"] == {"orders": 7, "note": ""} and stored["location"] == {"city": "Lyon"}
    again = target.write_batch(profiles(3))
    assert len(again.confirmed) == 3 and len(service.profiles) == 10_001, (
        "an import updates, never duplicates"
    )


def test_jobs_are_split_at_5_mb(klaviyo) -> None:
    service, server = klaviyo
    records = profiles(9_000, padding=700)  # ~0.85 KB a profile: ~7.7 MB in all
    target = destination(server)
    planned = target.plan_batch(records)
    sizes = [len(json.dumps(r.json).encode()) for r in planned]
    assert len(planned) == 2 and all(size <= MAX_JOB_BYTES for size in sizes)
    assert sizes[0] > MAX_JOB_BYTES - 1_000, "the first job is filled up to the limit"
    outcome = target.write_batch(records)
    assert len(outcome.confirmed) == 9_000 and sum(jobs_received(service)) == 9_000
    assert MAX_JOB_BYTES - 1_000 < service.largest_body <= MAX_JOB_BYTES
    oversized = target._import_request(
        [{"type": "profile", "attributes": {"email": "a@b.co", "p": "x" * 99_000}}] * 51
    )
    response = requests.post(oversized.url, headers=dict(oversized.headers), json=oversized.json, timeout=30)
    assert response.status_code == 413 and response.json()["errors"][0]["code"] == "request_too_large"


def test_import_errors_are_mapped_to_their_rows(klaviyo) -> None:
    service, server = klaviyo
    good = profiles(6)
    bad_email = Record("cus_bad", {"email": "nobody-at-all", "first_name": "X"}, Operation.UPSERT)
    also_bad = Record("cus_worse", {"email": "a@@b", "external_id": "x9"}, Operation.UPSERT)
    outcome = destination(server).write_batch([*good[:3], bad_email, *good[3:], also_bad])
    rejected = {result.key: result.error for result in outcome.rejected}
    assert rejected == {
        "cus_bad": "invalid: Invalid email address: nobody-at-all.",
        "cus_worse": "invalid: Invalid email address: a@@b.",
    }
    assert {result.key for result in outcome.confirmed} == {record.key for record in good}
    (job,) = service.jobs.values()
    assert len(job["errors"]) == 2 and len(service.profiles) == 6


def test_more_than_a_page_of_import_errors_is_read_to_the_end(klaviyo) -> None:
    service, server = klaviyo
    bad = [Record(f"bad_{n}", {"email": f"bad{n}.example.org"}, Operation.UPSERT) for n in range(230)]
    outcome = destination(server).write_batch([*profiles(20), *bad])
    assert {result.key for result in outcome.rejected} == {record.key for record in bad}
    assert len(outcome.confirmed) == 20
    (job_id,) = service.jobs
    reads = [seen for seen in service.requests_seen if seen[1].endswith("/import-errors")]
    assert len(reads) == 3 and len(service.jobs[job_id]["errors"]) == 230


class FakeWithoutPayloads(KlaviyoFake):
    """Answers import errors without original_payload, as a sparse fieldset would."""

    def get_import_errors(self, request):
        response = super().get_import_errors(request)
        for item in response.body["data"]:
            item["attributes"] = {k: v for k, v in item["attributes"].items() if k != "original_payload"}
        return response


def test_an_import_error_naming_no_row_confirms_no_row_of_its_job() -> None:
    service = FakeWithoutPayloads()
    with FakeServer(service) as server:
        bad = Record("cus_bad", {"email": "nobody-at-all"}, Operation.UPSERT)
        outcome = destination(server).write_batch([*profiles(4), bad])
    assert not outcome.confirmed and len(outcome.rejected) == 5
    assert all(result.retryable for result in outcome.rejected if result.key != "cus_bad")
    assert "1 error(s) that name no row" in outcome.rejected[0].error


def test_seeded_faults_rejects_and_retries() -> None:
    from reverse_etl.sandbox.server import Faults

    faults = Faults(seed=7, record_reject_rate=0.2, throttle_rate=0.15, server_error_rate=0.15)
    service = KlaviyoFake(faults, limits={"import": (1000, 10_000)})  # only the injected faults
    with FakeServer(service) as server:
        records = profiles(200)
        client = HttpClient(retry=RetryPolicy(max_attempts=20, base_delay=0.01, max_delay=0.05))
        outcome = BatchResult()
        for start in range(0, 200, 20):
            outcome.results += (
                destination(server, client=client).write_batch(records[start : start + 20]).results
            )
    expected = {
        record.key
        for record in records
        if service.faults.reject_record(str(record.fields["external_id"]).lower())
    }
    assert expected and {result.key for result in outcome.rejected} == expected
    assert len(outcome.confirmed) == 200 - len(expected)
    assert client.stats["retries"] > 0, "injected 429s and 503s were retried, polls and imports alike"


def test_phone_numbers_must_be_e164(klaviyo) -> None:
    service, server = klaviyo
    rows = [
        Record("ok", {"email": "a@example.org", "phone_number": "+14155550123"}, Operation.UPSERT),
        Record("local", {"email": "b@example.org", "phone_number": "(415) 555-0123"}, Operation.UPSERT),
        Record("no_plus", {"email": "c@example.org", "phone_number": "33612345678"}, Operation.UPSERT),
        Record("no_email", {"phone_number": "+33612345678"}, Operation.UPSERT),
    ]
    target = destination(server)
    sent = target.plan_batch(rows)[0].json["data"]["attributes"]["profiles"]["data"]
    assert [profile["attributes"]["email"] for profile in sent] == ["a@example.org"]
    outcome = target.write_batch(rows)
    rejected = {result.key: result.error for result in outcome.rejected}
    assert set(rejected) == {"local", "no_plus", "no_email"}
    assert "is not E.164" in rejected["local"] and "'(415) 555-0123'" in rejected["local"]
    assert rejected["no_email"] == "no value for identifier email"
    assert [result.key for result in outcome.confirmed] == ["ok"] and len(service.profiles) == 1
    by_phone = destination(server, identifier="phone_number").write_batch(rows[3:])
    assert len(by_phone.confirmed) == 1 and len(service.profiles) == 2


def test_a_profile_over_100_kb_is_rejected_as_a_row(klaviyo) -> None:
    service, server = klaviyo
    huge = Record("cus_huge", {"email": "huge@example.org", "notes": "x" * 100_000}, Operation.UPSERT)
    outcome = destination(server).write_batch([huge, *profiles(2)])
    assert [result.key for result in outcome.rejected] == ["cus_huge"]
    assert "Klaviyo accepts at most 100,000 per profile" in (outcome.rejected[0].error or "")
    assert len(outcome.confirmed) == 2 and len(service.profiles) == 2
    request = destination(server)._import_request([{"type": "profile", "attributes": dict(huge.fields)}])
    response = requests.post(request.url, headers=dict(request.headers), json=request.json, timeout=10)
    assert response.status_code == 400 and "100KB" in response.json()["errors"][0]["detail"]


def test_a_job_that_never_completes_is_retried_next_run() -> None:
    service = KlaviyoFake(polls_until_complete=10**9)
    with FakeServer(service) as server:
        outcome = destination(server, job_timeout_seconds=0.2).write_batch(profiles(3))
    assert len(outcome.rejected) == 3 and all(result.retryable for result in outcome.rejected)
    assert "still running" in outcome.rejected[0].error
    (job,) = service.jobs.values()
    assert job["status"] == "processing" and job["polls"] >= 2


def test_429s_carry_klaviyos_body_and_are_retried() -> None:
    service = KlaviyoFake(limits={"import": (3, 8), "lists": (3, 8)}, burst_window=0.2, steady_window=0.6)
    with FakeServer(service) as server:
        raw = [
            requests.get(
                f"{server.url}/api/profile-bulk-import-jobs/none",
                headers={"Authorization": f"Klaviyo-API-Key {KEY}", "revision": "2026-07-15"},
                timeout=10,
            )
            for _ in range(4)
        ]
        assert raw[0].status_code == 404 and raw[0].headers["RateLimit-Limit"] == "8"
        throttled = raw[-1]
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 0
        assert "RateLimit-Limit" not in throttled.headers
        (problem,) = throttled.json()["errors"]
        assert problem["code"] == "throttled" and problem["title"] == "Request was throttled."
        client = HttpClient(retry=RetryPolicy(max_attempts=40, base_delay=0.05, max_delay=1.0))
        target = destination(server, client=client)
        outcome = BatchResult()
        for start in range(0, 60, 10):
            outcome.results += target.write_batch(profiles(10, start)).results
    assert len(outcome.confirmed) == 60 and len(service.profiles) == 60
    assert client.stats["throttled"] > 0 and service.throttled >= client.stats["throttled"]


def test_mirror_sync_removes_rows_from_the_list_not_the_profiles(
    klaviyo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = klaviyo
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.klaviyo_profiles as select 'cus_' || n as customer_id, "
        "'person' || n || '@example.org' as email, '+3361234' || lpad(cast(n as varchar), 4, '0') as phone_number, "
        "'P' || n as first_name, n * 10 as lifetime_value from range(1, 121) as t(n)"
    )
    warehouse.execute(
        "update activation.klaviyo_profiles set phone_number = '06 12 34 56 78' where customer_id = 'cus_5'"
    )
    monkeypatch.setenv("KLAVIYO_API_KEY", KEY)
    sync = SyncConfig(
        name="klaviyo_members",
        model="klaviyo_profiles",
        relation=Relation(None, "activation", "klaviyo_profiles"),
        destination="klaviyo",
        mode=Mode.MIRROR,
        primary_key="customer_id",
        fields={
            "external_id": "customer_id",
            "email": "email",
            "phone_number": "phone_number",
            "first_name": "first_name",
            "lifetime_value": "lifetime_value",
        },
        options={"base_url": server.url, "list_id": LIST, "poll_interval_seconds": 0.01},
        max_change_share=0.5,
    )
    engine = SyncWarehouse(warehouse.target)
    try:
        with pytest.raises(PartialFailure) as partial:
            run_sync(engine, sync)
        summary = partial.value.summary
        assert summary.confirmed == 119 and summary.rejected == 1
        assert len(service.lists[LIST]) == 119
        member = service._find({"email": "person7@example.org"})
        assert member in service.lists[LIST] and service.profiles[member]["properties"] == {
            "lifetime_value": 70
        }
        ids = dict(
            engine.query("select record_key, destination_id from cdp_sync.snapshots where status = 'synced'")
        )
        assert ids["cus_7"] == "email:person7@example.org", "rows keep the identifier that finds them again"
        warehouse.execute(
            "delete from activation.klaviyo_profiles where customer_id in ('cus_1', 'cus_2', 'cus_5')"
        )
        warehouse.execute(
            "update activation.klaviyo_profiles set first_name = 'Changed' where customer_id = 'cus_3'"
        )
        second = run_sync(engine, sync)
    finally:
        engine.close()
    # cus_5 was never confirmed, so leaving the model asks nothing of Klaviyo.
    assert second.diff.removed == 2 and second.confirmed == 3
    removed = {service._find({"email": f"person{n}@example.org"}) for n in (1, 2)}
    assert not removed & service.lists[LIST] and len(service.lists[LIST]) == 117
    assert all(profile_id in service.profiles for profile_id in removed), "list removal keeps the profiles"
    assert service.profiles[service._find({"external_id": "cus_3"})]["first_name"] == "Changed"
    assert ("GET", "/api/profiles") in service.requests_seen
    assert ("DELETE", f"/api/lists/{LIST}/relationships/profiles") in service.requests_seen


def test_list_removal_finds_profiles_100_a_lookup_and_removes_1000_a_call(klaviyo) -> None:
    service, server = klaviyo
    target = destination(server)
    confirmed = target.write_batch(profiles(2_500)).confirmed
    leaving = [
        Record(result.key, {}, Operation.DELETE, destination_id=result.destination_id)
        for result in confirmed[:2_100]
    ]
    never_confirmed = Record("cus_new", {}, Operation.DELETE)
    planned = target.plan_batch([*leaving, never_confirmed])
    assert len(planned) == 21 and {(r.method, r.url) for r in planned} == {
        ("GET", f"{server.url}/api/profiles")
    }
    assert planned[0].params == {
        "filter": 'any(email,["' + '","'.join(f"person{n}@example.org" for n in range(100)) + '"])',
        "fields[profile]": "email",
        "page[size]": 100,
    }
    service.requests_seen.clear()
    outcome = target.write_batch([*leaving, never_confirmed])
    assert len(outcome.confirmed) == 2_101 and not outcome.rejected
    removals = [seen for seen in service.requests_seen if seen[0] == "DELETE"]
    assert len(removals) == 3 and service.requests_seen.count(("GET", "/api/profiles")) == 21
    assert len(service.lists[LIST]) == 400 and len(service.profiles) == 2_500
    assert service._find({"email": "person2100@example.org"}) in service.lists[LIST]
    again = target.write_batch(leaving[:5])
    assert len(again.confirmed) == 5, "removing what is no longer on the list is harmless"


def test_forget_sends_one_data_privacy_deletion_job_per_row(klaviyo) -> None:
    service, server = klaviyo
    destination(server).write_batch(profiles(3))
    target = destination(server, action="forget")
    gone = [Record("cus_1", {"email": "person1@example.org"}, Operation.INSERT)]
    (request,) = target.plan_batch(gone)
    assert request.url.endswith("/api/data-privacy-deletion-jobs")
    assert request.json == {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {
                "profile": {"data": {"type": "profile", "attributes": {"email": "person1@example.org"}}}
            },
        }
    }
    target.begin_run(Mode.INSERT)
    outcome = target.write_batch([*gone, Record("cus_x", {"email": None}, Operation.INSERT)])
    assert [r.key for r in outcome.confirmed] == ["cus_1"] and [r.key for r in outcome.rejected] == ["cus_x"]
    assert service.deletion_requests == [{"identifier": "email", "value": "person1@example.org"}]
    assert service._find({"email": "person1@example.org"}) is None and len(service.profiles) == 2


def test_a_forget_request_erases_the_profile_an_import_sync_created(klaviyo) -> None:
    service, server = klaviyo
    target = destination(server)
    imported = target.write_batch(profiles(3))
    references = {result.key: result.destination_id for result in imported.results}
    forgotten = target.forget_batch(
        [Record("cus_1", {}, Operation.DELETE, destination_id=references["cus_1"])]
    )
    assert [r.key for r in forgotten.confirmed] == ["cus_1"]
    assert service.deletion_requests == [{"identifier": "email", "value": "person1@example.org"}]
    assert service._find({"email": "person1@example.org"}) is None and len(service.profiles) == 2


def test_configuration_is_checked_at_start_up(klaviyo) -> None:
    _, server = klaviyo

    def missing(name: str) -> str:
        raise ConfigError(f"missing credential {name}")

    with pytest.raises(ConfigError, match="KLAVIYO_API_KEY"):
        KlaviyoDestination({"list_id": LIST}, missing, HttpClient())
    bad = [
        ({"revision": "latest"}, "option revision"),
        ({"identifier": "customer_id"}, "option identifier"),
        ({"action": "erase"}, "option action"),
        ({"action": "forget", "identifier": "external_id"}, "option identifier"),
        ({"list_id": ""}, "option list_id"),
        ({"poll_interval_seconds": 0}, "option poll_interval_seconds"),
        ({"base_url": "a.klaviyo.com"}, "option base_url .* needs an http:// or https:// scheme"),
        ({"base_url": "localhost:8080"}, "option base_url .* needs an http:// or https:// scheme"),
        ({"base_url": "ftp://x"}, "option base_url .* needs an http:// or https:// scheme"),
        ({"base_url": "${CDP_KLAVIYO_BASE_URL}"}, "variable CDP_KLAVIYO_BASE_URL is not set"),
    ]
    for options, message in bad:
        with pytest.raises(ConfigError, match=message):
            destination(server, **options)
    with pytest.raises(ConfigError, match="set option list_id"):
        destination(server, list_id=None).begin_run(Mode.MIRROR)
    with pytest.raises(ConfigError, match="use mode upsert"):
        destination(server).begin_run(Mode.INSERT)
    asked: list[str] = []
    configured = KlaviyoDestination(
        {"api_key_env": "SHOP_KLAVIYO_KEY"}, lambda name: asked.append(name) or KEY, HttpClient()
    )
    assert asked == ["SHOP_KLAVIYO_KEY"] and configured.config.base_url == "https://a.klaviyo.com"
    assert KEY not in repr(configured.plan_batch(profiles(1))[0].masked())


def test_the_fake_checks_key_revision_and_media_type(klaviyo) -> None:
    _, server = klaviyo
    with pytest.raises(DestinationAuthError, match="HTTP 401 .*Missing or invalid private key") as refused:
        destination(server, key="pk_wrong").write_batch(profiles(2))
    assert "pk_wrong" not in str(refused.value)
    request = destination(server).plan_batch(profiles(1))[0]
    headers = {name: value for name, value in request.headers.items() if name != "revision"}
    response = requests.post(request.url, headers=headers, json=request.json, timeout=10)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "missing_revision"
    plain = {**request.headers, "content-type": "text/plain"}
    response = requests.post(request.url, headers=plain, data=json.dumps(request.json), timeout=10)
    assert response.status_code == 415
    wrong_type = {"data": {"type": "profile-import", "attributes": request.json["data"]["attributes"]}}
    response = requests.post(request.url, headers=dict(request.headers), json=wrong_type, timeout=10)
    assert response.status_code == 400 and response.json()["errors"][0]["source"]["pointer"] == "/data/type"
    assert HttpRequest.describe(request).count("***") == 1


@pytest.mark.parametrize("mode", [Mode.MIRROR, Mode.UPSERT])
def test_a_changed_email_updates_the_profile_this_sync_imported(
    klaviyo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    """5 of 50 people change email: their profiles are found by the old email and imported by id, so Klaviyo
    holds exactly 50 profiles, all on the list, with the new emails; removed rows leave the list."""
    service, server = klaviyo
    monkeypatch.setenv("KLAVIYO_API_KEY", KEY)
    with people(tmp_path) as model:
        sync = model.sync(
            "klaviyo",
            {"email": "email", "first_name": "first_name"},
            {"base_url": server.url, "list_id": LIST, "poll_interval_seconds": 0.01},
            mode,
        )
        model.run(sync)
        before = set(service.profiles)
        model.change_emails()
        assert model.run(sync).diff.changed == len(CHANGED)
        assert set(service.profiles) == before and service.lists[LIST] == before
        assert {profile["email"] for profile in service.profiles.values()} == model.expected_emails()
        assert model.destination_ids(sync)["cus_17"] == f"email:{new_email('cus_17')}"
        if mode is Mode.MIRROR:
            model.remove()
            assert model.run(sync).diff.removed == len(REMOVED)
            listed = {service.profiles[profile_id]["email"] for profile_id in service.lists[LIST]}
            assert listed == model.expected_emails(REMOVED) and set(service.profiles) == before


def test_a_changed_email_another_profile_holds_is_a_reject_and_a_gone_profile_is_imported_afresh(
    klaviyo,
) -> None:
    service, server = klaviyo
    target = destination(server)
    first, second = target.write_batch(profiles(2)).results
    taken = Record("cus_1", {"email": "person0@example.org"}, Operation.UPSERT, second.destination_id)
    (refused,) = target.write_batch([taken]).results
    assert not refused.ok and "duplicate_profile" in (refused.error or "")
    service.profiles.clear()
    service._index.clear()
    moved = Record("cus_0", {"email": "moved0@example.org"}, Operation.UPSERT, first.destination_id)
    (imported,) = target.write_batch([moved]).results
    assert imported.ok and imported.destination_id == "email:moved0@example.org"
    assert [profile["email"] for profile in service.profiles.values()] == ["moved0@example.org"]
