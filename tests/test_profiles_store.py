"""One contract, both profile stores: what a sync writes is found by id and by every identifier; a rewrite drops
identifiers the profile no longer has; a delete leaves no key behind; an identifier that moved stays with its
new owner."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_stores import BACKENDS, open_test_store

from reverse_etl.profiles.store import Profile, ProfileStore


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path):
    with open_test_store(request.param, tmp_path) as opened:
        yield opened


def person(customer_id: str, emails: list[str], phones: list[str] = (), **attributes) -> Profile:  # type: ignore[assignment]
    return Profile(
        customer_id,
        {"first_name": "Ada", **attributes},
        {"email": emails, "phone": list(phones)},
        {"written_at": "2026-12-06T18:00:00+00:00", "write_id": "w1"},
    )


def test_a_profile_is_found_by_id_and_by_each_identifier(store: ProfileStore) -> None:
    ada = person("c1", ["ada@example.net", "ada@work.example"], ["+14155550100"], orders=3)
    store.apply([ada, person("c2", ["bob@example.net"])], [])
    assert store.get("c1") == ada
    assert store.lookup("email", "ada@work.example") == ada
    assert store.lookup("phone", "+14155550100") == ada
    assert store.lookup("email", "bob@example.net").customer_id == "c2"
    assert store.count() == 2 and store.identifier_count() == 4


def test_unknown_ids_and_identifiers_are_none(store: ProfileStore) -> None:
    store.apply([person("c1", ["ada@example.net"])], [])
    assert store.get("c9") is None
    assert store.lookup("email", "nobody@example.net") is None
    # The type is part of the key: the same text under another type is another identifier.
    assert store.lookup("phone", "ada@example.net") is None


def test_a_rewrite_replaces_the_profile_and_drops_identifiers_it_no_longer_has(store: ProfileStore) -> None:
    store.apply([person("c1", ["old@example.net", "keep@example.net"], ["+14155550100"])], [])
    store.apply([person("c1", ["keep@example.net", "new@example.net"], [], orders=9)], [])
    assert store.lookup("email", "old@example.net") is None
    assert store.lookup("phone", "+14155550100") is None
    found = store.lookup("email", "new@example.net")
    assert found is not None and found.attributes["orders"] == 9
    assert store.identifier_count() == 2


def test_a_delete_removes_the_profile_and_every_identifier_key(store: ProfileStore) -> None:
    store.apply([person("c1", ["a@example.net", "b@example.net"], ["+14155550100"])], [])
    store.apply([person("c1", ["b@example.net"], ["+14155550100"])], [])
    store.apply([person("c2", ["c@example.net"])], ["c1"])
    assert store.get("c1") is None
    assert all(
        store.lookup(kind, value) is None
        for kind, value in [("email", "a@example.net"), ("email", "b@example.net"), ("phone", "+14155550100")]
    )
    assert store.count() == 1 and store.identifier_count() == 1
    # Deleting what is not there is harmless (a forget request sent again after a crash).
    store.apply([], ["c1", "c404"])
    assert store.count() == 1


def test_an_identifier_that_moved_stays_with_its_new_owner(store: ProfileStore) -> None:
    store.apply([person("c1", ["shared@example.net", "a@example.net"])], [])
    # The identity graph moved the address to c2; c1 is rewritten without it, in either order.
    store.apply([person("c2", ["shared@example.net"]), person("c1", ["a@example.net"])], [])
    assert store.lookup("email", "shared@example.net").customer_id == "c2"
    store.apply([], ["c1"])
    assert store.lookup("email", "shared@example.net").customer_id == "c2"


def test_values_keep_their_types_and_unicode(store: ProfileStore) -> None:
    zoe = person(
        "c1", ["zoë@example.net"], last_name="Ångström", revenue=12.5, has_sms_consent=False, segments=["vip"]
    )
    store.apply([zoe], [])
    assert store.lookup("email", "zoë@example.net") == zoe
