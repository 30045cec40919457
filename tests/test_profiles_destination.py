"""The profile_store destination on its own: options are checked with one line naming the option, a row whose
identifier column is not a JSON array is rejected alone, an unreachable store fails the send (the run stops and
the rows stay pending), and plan shows what would be written without touching the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_profiles_demo import free_port

from conftest import ROOT
from reverse_etl.destinations.base import Mode, Operation, Record
from reverse_etl.destinations.profile_store import ProfileStoreDestination
from reverse_etl.errors import ConfigError, RetryableDestinationError
from reverse_etl.http import HttpClient
from reverse_etl.profiles.settings import DEFAULT_FILE, StoreSettings


def make(**options: object) -> ProfileStoreDestination:
    return ProfileStoreDestination(options, lambda name: "", HttpClient())


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"backend": "memcached"}, "backend: 'memcached' is not a backend; use sqlite or redis"),
        ({"backend": "redis"}, "url: the redis backend needs a redis:// URL"),
        (
            {"backend": "redis", "url": "${CDP_UNSET_REDIS}"},
            "url: environment variable CDP_UNSET_REDIS is not set",
        ),
        ({"batch_size": 0}, "batch_size must be 1..5000"),
        ({"identifiers": ["emails"]}, "identifiers must map identifier types to fields"),
        ({"json_fields": "segments"}, "json_fields must list fields"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        make(path=str(tmp_path / "p.sqlite"), **options)
    assert problem in str(refused.value) and "\n" not in str(refused.value)


def test_the_default_file_is_beside_the_duckdb_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_PROJECT_DIR", str(ROOT))
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "wh" / "cdp.duckdb"))
    assert StoreSettings.parse({}).path == tmp_path / "wh" / DEFAULT_FILE


def test_a_row_with_a_malformed_identifier_column_is_rejected_alone(tmp_path: Path) -> None:
    destination = make(path=str(tmp_path / "p.sqlite"))
    result = destination.write_batch(
        [
            Record(
                "c1", {"emails": '["a@example.net"]', "segments": '["vip"]', "orders": 2}, Operation.UPSERT
            ),
            Record("c2", {"emails": "b@example.net", "segments": "[]"}, Operation.UPSERT),
            Record("c3", {"emails": "[1, 2]", "segments": "[]"}, Operation.UPSERT),
        ]
    )
    assert [r.key for r in result.confirmed] == ["c1"]
    assert {r.key: r.error for r in result.rejected}["c2"].startswith("field emails is not JSON text")
    assert "must be a JSON array of strings" in {r.key: r.error for r in result.rejected}["c3"]
    profile = destination.store.lookup("email", "a@example.net")
    assert profile is not None and profile.attributes == {"segments": ["vip"], "orders": 2}
    assert profile.freshness["write_id"] and profile.freshness["written_at"]
    destination.finish_run(Mode.MIRROR, success=True)


def test_an_unreachable_store_fails_the_send() -> None:
    destination = make(backend="redis", url=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RetryableDestinationError, match="profile store redis://127.0.0.1"):
        destination.write_batch([Record("c1", {"emails": "[]"}, Operation.UPSERT)])


def test_plan_shows_the_writes_and_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    planned = make(path=str(path)).plan_batch(
        [Record("c1", {"emails": '["a@example.net"]'}, Operation.UPSERT), Record("c2", {}, Operation.DELETE)]
    )
    assert [(request.method, request.url) for request in planned] == [
        ("PUT", f"sqlite:{path}"),
        ("DELETE", f"sqlite:{path}"),
    ]
    assert planned[0].json[0]["identifiers"] == {"email": ["a@example.net"]} and planned[1].json == ["c2"]
    assert not path.exists()
