"""Silent-wrong cases of the sync engine: the row encoding, column type changes, the resend after an engine
upgrade, invalid keys named, and where run locks live."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, Warehouse
from reverse_etl.errors import PartialFailure, SyncError
from reverse_etl.sync.lock import lock_path
from reverse_etl.sync.state import row_encoding_sql
from test_sync_engine import fake, make_people, model_state, run, scratch, webhook_sync  # noqa: F401 - fixtures

# Values chosen to collide under a separator-joined encoding: separators, lengths, colons, the old null mark.
TRICKY = st.one_of(
    st.none(),
    st.text(alphabet="|:N0123456789\u2205a ", max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(TRICKY, TRICKY, TRICKY), min_size=1, max_size=40))
def test_distinct_rows_never_share_an_encoding(rows: list[tuple[str | None, str | None, str | None]]) -> None:
    distinct = sorted(set(rows), key=repr)
    connection = duckdb.connect()
    connection.execute("create table model (a varchar, b varchar, c varchar)")
    connection.executemany("insert into model values (?, ?, ?)", distinct)
    encoded = connection.execute(
        f"select count(distinct {row_encoding_sql(['a', 'b', 'c'])}) from model"
    ).fetchone()
    assert encoded is not None and encoded[0] == len(distinct)


def make_pairs(warehouse: Warehouse, rows: list[tuple[str, str | None, str | None]]) -> None:
    warehouse.execute("create schema if not exists activation")
    warehouse.execute("drop table if exists activation.pairs")
    warehouse.execute("create table activation.pairs (person_key varchar, email varchar, score varchar)")
    for row in rows:
        marker = "?" if warehouse.kind == "duckdb" else "%s"
        warehouse.execute(f"insert into activation.pairs values ({marker}, {marker}, {marker})", row)


def test_a_null_turning_into_a_marker_or_a_moved_separator_is_sent(scratch: Warehouse, fake) -> None:  # noqa: F811
    """Joined with '|' and a null written as a marker, these changes hashed alike and were never sent."""
    service, server = fake
    make_pairs(scratch, [("k1", None, "x"), ("k2", "a|", "b"), ("k3", "same", "same")])
    sync = webhook_sync(server, table="pairs", max_change_share=1.0)
    assert run(scratch, sync).confirmed == 3
    scratch.execute("update activation.pairs set email = '\u2205' where person_key = 'k1'")
    scratch.execute("update activation.pairs set email = 'a', score = '|b' where person_key = 'k2'")
    second = run(scratch, sync)
    assert (second.diff.changed, second.sent) == (2, 2)
    assert service.records["k1"] == {"email": "\u2205", "score": "x"}
    assert service.records["k2"] == {"email": "a", "score": "|b"}


def test_a_column_type_change_is_resent_and_the_guard_names_it(scratch: Warehouse, fake) -> None:  # noqa: F811
    service, server = fake
    make_people(scratch, 20)
    sync = webhook_sync(server)
    run(scratch, sync)
    assert service.records["key_5"]["score"] == 5
    # The same text, another type: the destination would otherwise keep the number 5 where the model has '5'.
    scratch.execute("alter table activation.people alter column score type varchar")
    with pytest.raises(SyncError, match=r"column types changed \(score \w+ -> (character varying|varchar)\)"):
        run(scratch, sync)
    resent = run(scratch, sync, allow_mass_change=True)
    assert (resent.diff.changed, resent.sent) == (20, 20)
    assert service.records["key_5"]["score"] == "5"
    assert run(scratch, sync).sent == 0


def test_an_engine_upgrade_resends_every_row_once_and_says_why(scratch: Warehouse, fake) -> None:  # noqa: F811
    service, server = fake
    make_people(scratch, 30)
    sync = webhook_sync(server)
    run(scratch, sync)
    # The state an earlier engine left: hashes of another encoding, runs without a fingerprint.
    scratch.execute("update cdp_sync.snapshots set confirmed_hash = md5(record_key)")
    scratch.execute("update cdp_sync.runs set fingerprint = null")
    requests_before = len(service.requests_seen)
    upgraded = run(scratch, sync)  # no --allow-mass-change: the guard lets a controlled resend through
    assert (upgraded.diff.changed, upgraded.sent, upgraded.confirmed) == (30, 30, 30)
    assert any("earlier version of the sync engine" in note for note in upgraded.notes())
    notes = scratch.scalar("select notes from cdp_sync.runs order by started_at desc limit 1")
    assert "earlier version of the sync engine" in notes
    assert len(service.requests_seen) > requests_before
    assert service.records == model_state(scratch)
    assert run(scratch, sync).sent == 0
    # Removals are still guarded during such a resend.
    scratch.execute("update cdp_sync.snapshots set confirmed_hash = md5(record_key)")
    scratch.execute("update cdp_sync.runs set fingerprint = null")
    scratch.execute("delete from activation.people where score > 10")
    with pytest.raises(SyncError, match="would change or remove 20 of 30"):
        run(scratch, webhook_sync(server, mode=sync.mode.MIRROR))


def test_invalid_keys_are_named(scratch: Warehouse, fake) -> None:  # noqa: F811
    _, server = fake
    make_pairs(
        scratch,
        [
            ("k1", "a", "1"),
            ("k2", "b", "2"),
            ("k2", "c", "3"),
            ("k9", "d", "4"),
            ("k9", "e", "5"),
            (None, "f", "6"),
        ],
    )
    with pytest.raises(PartialFailure) as failure:
        run(scratch, webhook_sync(server, table="pairs"))
    notes = failure.value.summary.notes()
    assert "4 rows share a key and were not sent (keys: k2, k9)" in notes
    assert "1 row has no key and was not sent" in notes
    stored = scratch.scalar("select notes from cdp_sync.runs")
    assert "keys: k2, k9" in stored
    assert "keys: k2, k9" in failure.value.summary.describe()


def test_run_locks_stay_out_of_the_project(tmp_path: Path, scratch: Warehouse, fake) -> None:  # noqa: F811
    _, server = fake
    make_people(scratch, 3)
    run(scratch, webhook_sync(server))
    assert not list(tmp_path.glob("*.lock"))
    assert Path(tempfile.gettempdir()) in lock_path(str(tmp_path / "cdp.duckdb"), "x").parents
    tracked = subprocess.run(
        ["git", "ls-files", "*.lock"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    assert tracked == ""
