"""A BI user in a process of its own; bi_user() starts one for a test.

python tests/bi_reader.py hold PATH      open PATH read-only, print "open", keep it open until stdin closes.
python tests/bi_reader.py fresh PATH     until stdin closes: open PATH read-only, read the published copy's
                                         counts in one connection, close it; each read printed as JSON, and
                                         every error too.
python tests/bi_reader.py kept PATH      the same through one connection opened at the start (a reader that
                                         had the old copy open keeps reading it). DuckDB shares one open
                                         database per file and process, so the two need processes of their own."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

QUERIES = {
    "customers": "select count(*) from marts.customers",
    "traits": "select count(*) from marts.customer_traits",
    "memberships": "select count(*) from segments.segment_memberships",
    "identity_health": "select count(*) from identity.identity_health",
    "published_at": "select max(published_at)::varchar from main.cdp_published",
}


READER = Path(__file__)


@contextmanager
def bi_user(path: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with the DuckDB file open read-only, as a BI tool has it, until the block ends."""
    process = subprocess.Popen(
        [sys.executable, str(READER), "hold", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "open"
        yield process
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


@contextmanager
def read_only(path: str):
    connection = duckdb.connect(path, read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def counts(connection: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {name: connection.execute(sql).fetchone()[0] for name, sql in QUERIES.items()}  # type: ignore[index]


def stdin_closed(wait: float) -> bool:
    ready, _, _ = select.select([sys.stdin], [], [], wait)
    return bool(ready) and sys.stdin.readline() == ""


def hold(path: str) -> None:
    with read_only(path) as connection:
        connection.execute("select 1").fetchall()
        print("open", flush=True)
        sys.stdin.read()


def fresh(path: str) -> None:
    print("open", flush=True)
    while not stdin_closed(0.05):
        try:
            with read_only(path) as connection:
                print(json.dumps({"counts": counts(connection)}), flush=True)
        except duckdb.Error as error:
            print(json.dumps({"error": str(error)}), flush=True)
            time.sleep(0.05)


def kept(path: str) -> None:
    with read_only(path) as connection:
        print("open", flush=True)
        while not stdin_closed(0.05):
            try:
                print(json.dumps({"counts": counts(connection)}), flush=True)
            except duckdb.Error as error:
                print(json.dumps({"error": str(error)}), flush=True)


if __name__ == "__main__":
    {"hold": hold, "fresh": fresh, "kept": kept}[sys.argv[1]](sys.argv[2])
