"""The profile API over a real store: lookups by any identifier as a caller types it, by customer id, field
selection, 404 for unknown and forgotten people, ETag / Last-Modified / 304, the documented JSON schema, and
bearer tokens with scopes (missing, wrong and insufficient tokens are refused)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from profile_stores import BACKENDS, open_test_store
from starlette.testclient import TestClient

from conftest import ROOT
from reverse_etl.errors import ConfigError
from reverse_etl.profiles.api import SCHEMA, make_app
from reverse_etl.profiles.auth import Tokens
from reverse_etl.profiles.normalize import load_rules
from reverse_etl.profiles.store import Profile

READER = "reader-token-0123456789"
FULL = "full-token-0123456789abc"
NO_READ = "identifiers-only-0123456789"
TOKENS = Tokens.parse(
    f"{READER}:profiles.read,{FULL}:profiles.read+profiles.identifiers,{NO_READ}:profiles.identifiers"
)

JANE = Profile(
    "cus_jane",
    {"first_name": "Jane", "orders": 3, "revenue": 120.5, "segments": ["vip"], "has_sms_consent": True},
    {
        "email": ["janedoe@gmail.com", "jane@work.example"],
        "phone": ["+14155550100"],
        "anonymous_id": ["anon-1"],
    },
    {
        "written_at": "2026-12-06T18:00:00.000+00:00",
        "write_id": "run1",
        "dbt_invocation_id": "inv",
        "dbt_generated_at": None,
    },
)


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path):
    with open_test_store(request.param, tmp_path) as store:
        store.apply([JANE], [])
        with TestClient(make_app(store, load_rules(ROOT), TOKENS)) as test_client:
            test_client.store = store  # type: ignore[attr-defined]
            yield test_client


def get(client: TestClient, path: str, token: str | None = READER, **headers: str):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/email/%20J.A.N.E.Doe+offers@GMail.com%20",
        "/api/v1/profiles/email/JANE@Work.Example",
        "/api/v1/profiles/phone/(415)%20555-0100",
        "/api/v1/profiles/phone/+1 415 555 0100 ext. 9",
        "/api/v1/profiles/anonymous_id/%20anon-1",
        "/api/v1/profiles/cus_jane",
    ],
)
def test_a_person_is_found_by_any_identifier_as_typed(client: TestClient, path: str) -> None:
    answer = get(client, path)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == "cus_jane" and body["profile"]["orders"] == 3
    jsonschema.validate(body, SCHEMA)
    assert "identifiers" not in body  # the reader token has no identifiers scope


def test_the_identifiers_scope_adds_the_identifiers_and_matches_the_schema(client: TestClient) -> None:
    body = get(client, "/api/v1/profiles/cus_jane", FULL).json()
    jsonschema.validate(body, SCHEMA)
    assert body["identifiers"]["email"] == ["janedoe@gmail.com", "jane@work.example"]
    assert body["freshness"] == dict(JANE.freshness)
    # The schema is strict enough to catch a wrong shape.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**body, "identifiers": {"email": "janedoe@gmail.com"}}, SCHEMA)
    assert get(client, "/api/v1/schema/profile").json() == SCHEMA


def test_fields_select_profile_fields_and_unknown_ones_are_named(client: TestClient) -> None:
    body = get(client, "/api/v1/profiles/cus_jane?fields=first_name,segments").json()
    assert body["profile"] == {"first_name": "Jane", "segments": ["vip"]}
    refused = get(client, "/api/v1/profiles/cus_jane?fields=first_name,ssn")
    assert refused.status_code == 400 and "ssn" in refused.json()["error"]


def test_unknown_and_forgotten_people_are_404_and_unknown_types_400(client: TestClient) -> None:
    assert get(client, "/api/v1/profiles/email/nobody@example.net").status_code == 404
    assert get(client, "/api/v1/profiles/phone/call%20me").status_code == 404
    assert get(client, "/api/v1/profiles/cus_nobody").status_code == 404
    unknown_type = get(client, "/api/v1/profiles/ssn/123")
    assert unknown_type.status_code == 400 and "email" in unknown_type.json()["error"]
    client.store.apply([], ["cus_jane"])  # type: ignore[attr-defined]
    assert get(client, "/api/v1/profiles/cus_jane").status_code == 404
    assert get(client, "/api/v1/profiles/email/jane@work.example").status_code == 404


def test_etag_and_last_modified_come_from_the_write_and_if_none_match_gets_304(client: TestClient) -> None:
    first = get(client, "/api/v1/profiles/cus_jane")
    etag = first.headers["etag"]
    assert first.headers["last-modified"] == "Sun, 06 Dec 2026 18:00:00 GMT"
    again = get(client, "/api/v1/profiles/email/jane@work.example", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    # Another field selection is another representation.
    assert get(client, "/api/v1/profiles/cus_jane?fields=orders").headers["etag"] != etag
    # A new write changes the tag: the stale one gets the new profile.
    rewritten = Profile(
        JANE.customer_id,
        {**JANE.attributes, "orders": 4},
        JANE.identifiers,
        {**JANE.freshness, "write_id": "run2"},
    )
    client.store.apply([rewritten], [])  # type: ignore[attr-defined]
    fresh = get(client, "/api/v1/profiles/cus_jane", **{"If-None-Match": etag})
    assert (
        fresh.status_code == 200 and fresh.json()["profile"]["orders"] == 4 and fresh.headers["etag"] != etag
    )


@pytest.mark.parametrize(
    ("token", "status", "error"),
    [
        (None, 401, None),
        ("wrong-token-0123456789", 401, "invalid_token"),
        (NO_READ, 403, "insufficient_scope"),
    ],
)
def test_requests_without_a_good_token_are_refused(
    client: TestClient, token: str | None, status: int, error
) -> None:
    for path in [
        "/api/v1/profiles/cus_jane",
        "/api/v1/profiles/email/jane@work.example",
        "/api/v1/profiles/ssn/1",
    ]:
        answer = get(client, path, token)
        assert answer.status_code == status
        assert "Jane" not in answer.text
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith("Bearer") and (error is None or error in challenge)
    assert get(client, "/api/v1/profiles/cus_jane", None, Authorization=f"Basic {READER}").status_code == 401


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "lists no token"),
        ("short:profiles.read", "at least 16"),
        ("long-enough-token-123:profiles.write", "unknown scope"),
        ("long-enough-token-123", "not <token>:<scope>"),
    ],
)
def test_bad_token_settings_are_named_without_the_token(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as refused:
        Tokens.parse(text)
    assert "long-enough-token-123" not in str(refused.value) and "short:" not in str(refused.value)


def test_tokens_come_from_a_yaml_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens_file = tmp_path / "tokens.yml"
    tokens_file.write_text(f"tokens:\n  - {{token: {FULL}, scopes: [profiles.read, profiles.identifiers]}}\n")
    monkeypatch.setenv("CDP_PROFILE_TOKENS", f"{READER}:profiles.read")
    monkeypatch.setenv("CDP_PROFILE_TOKENS_FILE", str(tokens_file))
    tokens = Tokens.from_environment()
    assert tokens.scopes(f"Bearer {FULL}") == {"profiles.read", "profiles.identifiers"}
    assert tokens.scopes(f"Bearer {READER}") is None
    tokens_file.write_text("tokens: [{token: short, scopes: [profiles.read]}]\n")
    with pytest.raises(ConfigError, match="CDP_PROFILE_TOKENS_FILE=.*at least 16") as refused:
        Tokens.from_environment()
    assert "short" not in str(refused.value)
    tokens_file.write_text("tokens: nope\n")
    with pytest.raises(ConfigError, match="expected `tokens:`"):
        Tokens.from_environment()
