"""The profile store written through the sync engine: readers never see a torn profile while a run rewrites
every profile, and a forget request removes the person and every identifier key they ever had."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path
from typing import Any

import pytest
from profile_stores import REDIS_URL, redis_prefix

from conftest import Warehouse, fresh_warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.destinations.profile_store import ProfileStoreDestination
from reverse_etl.http import HttpClient
from reverse_etl.profiles.settings import StoreSettings
from reverse_etl.profiles.store import ProfileStore
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

SUPPRESSED = Relation(None, "privacy", "suppressed_customers")


def make_profiles(warehouse: Warehouse, count: int, version: int) -> None:
    """Each person has a stable email, an email of this version, and the version as an attribute."""
    warehouse.execute("create schema if not exists activation")
    warehouse.execute("drop table if exists activation.profiles")
    warehouse.execute(
        "create table activation.profiles as select 'c' || n as customer_id, "
        f"'[\"stable' || n || '@example.net\", \"v{version}.' || n || '@example.net\"]' as emails, "
        f"'[]' as phones, {version} as version, n as position from range(1, ? + 1) as t(n)",
        (count,),
    )


def profile_sync(options: dict[str, Any], **overrides: Any) -> SyncConfig:
    settings: dict[str, Any] = {
        "name": "test_profiles",
        "model": "profiles",
        "relation": Relation(None, "activation", "profiles"),
        "destination": "profile_store",
        "mode": Mode.MIRROR,
        "primary_key": "customer_id",
        "options": options,
        "source_file": "models/test.yml",
        **overrides,
    }
    return SyncConfig(**settings)


def run(warehouse: Warehouse, sync: SyncConfig, **kwargs: Any):
    engine = SyncWarehouse(warehouse.target)
    try:
        destination = ProfileStoreDestination(sync.options, lambda name: "", HttpClient())
        return run_sync(engine, sync, destination=destination, **kwargs)
    finally:
        engine.close()


@pytest.fixture(params=["sqlite", "redis"])
def store_options(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield {"backend": "sqlite", "path": str(tmp_path / "profiles.sqlite"), "batch_size": 100}
        return
    options = {"backend": "redis", "url": REDIS_URL, "key_prefix": redis_prefix(), "batch_size": 100}
    store = StoreSettings.parse(options).open()
    try:
        store.client.ping()  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 - skipped with the reason
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {error}")
    yield options
    store.clear()  # type: ignore[attr-defined]
    store.close()


def open_reader(options: dict[str, Any]) -> ProfileStore:
    return StoreSettings.parse(options).open()


def read_during_sync(
    options: dict[str, Any], people: int, syncing: Any, done: Any, answers: Any, read_during: Any
) -> None:
    """In another process: look people up by their stable email until the runs are over; each answer must be
    one whole version of the profile. Sends (reads, reads during runs, problems)."""
    store = open_reader(options)
    problems: list[str] = []
    total = during = 0
    chooser = random.Random(7)
    answers.put("ready")
    try:
        while not done.is_set() and len(problems) < 5:
            n = chooser.randint(1, people)
            running = syncing.is_set() and not done.is_set()
            profile = store.lookup("email", f"stable{n}@example.net")
            total += 1
            during += running
            read_during.value = during
            if profile is None:
                problems.append(f"c{n}: stable email found no profile")
                continue
            version = profile.attributes["version"]
            expected = sorted([f"stable{n}@example.net", f"v{version}.{n}@example.net"])
            if profile.customer_id != f"c{n}" or sorted(profile.identifiers["email"]) != expected:
                problems.append(f"c{n}: torn profile {profile}")
            # An identifier of the old version finds a profile of that version, or nothing.
            old = store.lookup("email", f"v1.{n}@example.net")
            if old is not None and old.attributes["version"] != 1:
                problems.append(f"c{n}: v1 email points at version {old.attributes['version']}")
    finally:
        store.close()
        answers.put((total, during, problems))


def test_readers_never_see_a_torn_profile_while_a_run_rewrites_every_profile(
    request: pytest.FixtureRequest, tmp_path: Path, store_options: dict[str, Any]
) -> None:
    warehouse = fresh_warehouse("duckdb", request, tmp_path, "cdp_profiles")
    # Few people, rewritten by run after run until 10,000 reads were made during runs.
    people = 300
    make_profiles(warehouse, people, version=1)
    sync = profile_sync(store_options)
    run(warehouse, sync)

    context = multiprocessing.get_context("spawn")
    syncing, done, answers = context.Event(), context.Event(), context.Queue()
    read_during = context.Value("i", 0)
    process = context.Process(
        target=read_during_sync, args=(store_options, people, syncing, done, answers, read_during)
    )
    process.start()
    try:
        assert answers.get(timeout=60) == "ready"
        syncing.set()
        summaries = []
        while read_during.value < 10_000 and len(summaries) < 60:
            make_profiles(warehouse, people, version=len(summaries) + 2)
            summaries.append(run(warehouse, sync, allow_mass_change=True))
        runs = len(summaries)
    finally:
        done.set()
        total, during, problems = answers.get(timeout=120)
        process.join(timeout=30)
    assert all(summary.diff.changed == people and summary.confirmed == people for summary in summaries)
    assert problems == []
    assert during >= 10_000
    store = open_reader(store_options)
    try:
        assert store.lookup("email", "v1.7@example.net") is None
        assert store.lookup("email", f"v{runs + 1}.7@example.net").attributes["version"] == runs + 1
        assert store.identifier_count() == 2 * people
    finally:
        store.close()


def test_a_forget_request_removes_the_person_and_every_identifier_key(
    request: pytest.FixtureRequest, tmp_path: Path, store_options: dict[str, Any]
) -> None:
    warehouse = fresh_warehouse("duckdb", request, tmp_path, "cdp_profiles")
    warehouse.execute("create schema if not exists privacy")
    warehouse.execute("create table privacy.suppressed_customers (customer_id varchar)")
    make_profiles(warehouse, 50, version=1)
    # Upsert: removals from the model are left alone, so only the forget pass can delete.
    sync = profile_sync(store_options, mode=Mode.UPSERT, forget_from=SUPPRESSED)
    run(warehouse, sync)
    # c3 changes an email (the old one leaves the profile), then asks to be forgotten.
    warehouse.execute(
        'update activation.profiles set emails = \'["stable3@example.net", "new3@example.net"]\', '
        "phones = '[\"+14155550103\"]' where customer_id = 'c3'"
    )
    run(warehouse, sync)
    store = open_reader(store_options)
    try:
        assert store.lookup("phone", "+14155550103").customer_id == "c3"
        warehouse.execute("insert into privacy.suppressed_customers values ('c3'), ('c40')")
        warehouse.execute("delete from activation.profiles where customer_id in ('c3', 'c40')")
        summary = run(warehouse, sync)
        assert (summary.forgotten.queued, summary.forgotten.confirmed) == (2, 2)
        assert store.get("c3") is None and store.get("c40") is None
        for kind, value in [
            ("email", "stable3@example.net"),
            ("email", "new3@example.net"),
            ("email", "v1.3@example.net"),
            ("phone", "+14155550103"),
            ("email", "stable40@example.net"),
            ("email", "v1.40@example.net"),
        ]:
            assert store.lookup(kind, value) is None, value
        assert store.count() == 48 and store.identifier_count() == 96
        assert warehouse.query("select record_key from cdp_sync.forgotten order by 1") == [("c3",), ("c40",)]
    finally:
        store.close()
