"""Mailchimp destination against its local fake: batch subscribe, errors inside a 200, the 500-member limit,
archive by subscriber hash, the 10-connection limit, and the API key's data center."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from match_keys import CHANGED, REMOVED, new_email, people
from reverse_etl.destinations.base import BatchResult, Mode, Operation, Record
from reverse_etl.destinations.mailchimp import MailchimpDestination, subscriber_hash
from reverse_etl.errors import ConfigError, FatalDestinationError
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.sandbox.mailchimp import MailchimpFake
from reverse_etl.sandbox.server import FakeServer

KEY = "sandboxkey-us1"


@pytest.fixture
def mailchimp():
    service = MailchimpFake()
    with FakeServer(service) as server:
        yield service, server


def destination(
    server: FakeServer, key: str = KEY, client: HttpClient | None = None, **options
) -> MailchimpDestination:
    settings = {"base_url": server.url, "list_id": "a1b2c3", **options}
    return MailchimpDestination(
        settings, lambda name: key, client or HttpClient(retry=RetryPolicy(base_delay=0.01))
    )


def members(count: int) -> list[Record]:
    return [
        Record(
            key=f"cus_{n}",
            fields={"email_address": f"Person{n}@Example.org", "FNAME": f"P{n}"},
            operation=Operation.UPSERT,
        )
        for n in range(count)
    ]


def test_subscriber_hash_is_md5_of_the_lower_cased_trimmed_email() -> None:
    expected = hashlib.md5(b"urist.mcvankab@freddiesjokes.com").hexdigest()  # noqa: S324 - Mailchimp's own scheme
    assert subscriber_hash("urist.mcvankab@freddiesjokes.com") == expected
    assert subscriber_hash("  Urist.McVankab@FreddiesJokes.com ") == expected
    assert subscriber_hash("ÜRIST@example.com") == hashlib.md5("ürist@example.com".encode()).hexdigest()  # noqa: S324


def test_batch_subscribe_in_batches_of_500(mailchimp) -> None:
    service, server = mailchimp
    target = destination(server)
    (request,) = target.plan_batch(members(2))
    assert request.url.endswith("/3.0/lists/a1b2c3") and request.json["update_existing"] is True
    assert request.json["members"][0] == {
        "email_address": "Person0@Example.org",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "P0"},
    }
    outcome = BatchResult()
    records = members(1200)
    for start in range(0, len(records), 500):
        outcome.results += target.write_batch(records[start : start + 500]).results
    assert len(outcome.confirmed) == 1200
    audience = service.members["a1b2c3"]
    assert audience[subscriber_hash("person7@example.org")]["merge_fields"] == {"FNAME": "P7"}
    again = target.write_batch(members(3))
    assert len(again.confirmed) == 3 and len(audience) == 1200, "update_existing updates, never duplicates"


def test_member_errors_inside_a_200_are_mapped_to_rows(mailchimp) -> None:
    _, server = mailchimp
    bad = Record(
        key="cus_bad", fields={"email_address": "nobody-at-all", "FNAME": "X"}, operation=Operation.UPSERT
    )
    outcome = destination(server).write_batch([*members(3), bad])
    assert [result.key for result in outcome.rejected] == ["cus_bad"]
    assert "looks fake or invalid" in outcome.rejected[0].error and len(outcome.confirmed) == 3


def test_more_than_500_members_is_refused_with_a_problem_body(mailchimp) -> None:
    _, server = mailchimp
    with pytest.raises(FatalDestinationError) as refused:
        HttpClient().send(destination(server)._subscribe_request(members(501)))
    assert refused.value.status == 400 and '"title": "Invalid Resource"' in refused.value.body


def test_mirror_deletes_archive_members_by_subscriber_hash(mailchimp) -> None:
    service, server = mailchimp
    target = destination(server)
    confirmed = target.write_batch(members(5)).confirmed
    gone = [
        Record(key=r.key, fields={}, operation=Operation.DELETE, destination_id=r.destination_id)
        for r in confirmed[:2]
    ]
    (request, _) = target.plan_batch(gone)
    assert request.method == "DELETE" and request.url.endswith(
        f"/members/{subscriber_hash('person0@example.org')}"
    )
    assert len(target.write_batch(gone).confirmed) == 2
    assert len(service.members["a1b2c3"]) == 3


def test_more_than_ten_simultaneous_connections_get_429_and_are_retried() -> None:
    # Each request is held a full second, so 16 senders overlap even on a loaded machine.
    service = MailchimpFake(latency_seconds=1.0)
    with FakeServer(service) as server:
        client = HttpClient(retry=RetryPolicy(max_attempts=20, base_delay=0.05, max_delay=0.3))
        target = destination(server, client=client)
        batches = [members(20)[n : n + 1] for n in range(20)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(pool.map(target.write_batch, batches))
    assert sum(len(outcome.confirmed) for outcome in outcomes) == 20
    assert client.stats["throttled"] > 0 and service.most_concurrent <= 10, (
        client.stats,
        service.most_concurrent,
    )


def test_the_api_key_names_the_data_center() -> None:
    configured = MailchimpDestination({"list_id": "x"}, lambda name: "0123abcd-us6", HttpClient())
    assert configured.config.base_url == "https://us6.api.mailchimp.com"
    with pytest.raises(ConfigError, match="data center"):
        MailchimpDestination({"list_id": "x"}, lambda name: "no-center-here".replace("-", ""), HttpClient())
    with pytest.raises(ConfigError, match="list_id"):
        MailchimpDestination({}, lambda name: KEY, HttpClient())


@pytest.mark.parametrize("mode", [Mode.MIRROR, Mode.UPSERT])
def test_a_changed_email_moves_the_member_this_sync_added(
    mailchimp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    """5 of 50 people change email: the audience still has 50 members, 5 of them moved to the new address
    (same merge fields, under the new subscriber hash), none left under an old one; removals are archived."""
    service, server = mailchimp
    monkeypatch.setenv("MAILCHIMP_API_KEY", KEY)
    with people(tmp_path) as model:
        sync = model.sync(
            "mailchimp",
            {"email_address": "email", "FNAME": "first_name"},
            {"base_url": server.url, "list_id": "a1b2c3"},
            mode,
        )
        model.run(sync)
        model.change_emails()
        assert model.run(sync).diff.changed == len(CHANGED)
        audience = service.members["a1b2c3"]
        assert {member["email_address"] for member in audience.values()} == model.expected_emails()
        assert set(audience) == {subscriber_hash(email) for email in model.expected_emails()}
        assert audience[subscriber_hash(new_email("cus_17"))]["merge_fields"] == {"FNAME": "First17"}
        assert model.destination_ids(sync)["cus_17"] == new_email("cus_17")
        if mode is Mode.MIRROR:
            model.remove()
            assert model.run(sync).diff.removed == len(REMOVED)
            assert {member["email_address"] for member in audience.values()} == model.expected_emails(REMOVED)


def test_a_moved_member_that_is_gone_is_subscribed_again_and_a_taken_email_is_a_reject(mailchimp) -> None:
    service, server = mailchimp
    target = destination(server)
    target.write_batch(members(2))
    audience = service.members["a1b2c3"]
    del audience[subscriber_hash("person0@example.org")]
    gone = Record("cus_0", {"email_address": "new0@example.org"}, Operation.UPSERT, "person0@example.org")
    taken = Record("cus_1", {"email_address": "new0@example.org"}, Operation.UPSERT, "person1@example.org")
    (again,) = target.write_batch([gone]).results
    assert again.ok and again.destination_id == "new0@example.org"
    (refused,) = target.write_batch([taken]).results
    assert not refused.ok and "HTTP 400" in refused.error and "Member Exists" in refused.error
    assert {member["email_address"] for member in audience.values()} == {
        "new0@example.org",
        "person1@example.org",
    }


@pytest.mark.parametrize(
    ("base_url", "complaint"),
    [
        ("${CDP_MAILCHIMP_BASE_URL}", "environment variable CDP_MAILCHIMP_BASE_URL is not set"),
        ("localhost:8080", "needs an http:// or https:// scheme"),
        ("ftp://x", "needs an http:// or https:// scheme"),
    ],
)
def test_base_url_is_checked_when_the_destination_is_made(base_url: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match="mailchimp option base_url") as raised:
        MailchimpDestination({"list_id": "a1b2c3", "base_url": base_url}, lambda name: KEY, HttpClient())
    assert complaint in str(raised.value)
