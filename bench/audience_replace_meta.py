"""Benchmark: an audience replace of a million people through the sync engine to the Meta fake.

    python bench/audience_replace_meta.py --rows 1000000 --strangers 100000

The Meta fake runs in a process of its own (as bench/sync.py runs `cdp sandbox`, but on a free port). The audience is first pre-filled with `--strangers`
people the model does not hold (through the fake's users edge); then a first audience_replace run of the model
(DuckDB) goes out as one usersreplace session. At the end the fake's membership is compared with the model: the
member count and an order-free digest of the hashed emails must match, so no stranger is left and nobody is
missing. Prints the wall time, rows/s and the peak resident memory of the fake's process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from reverse_etl.destinations import identifiers as ids
from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target, connect
from reverse_etl.sandbox.meta import MetaFake, member_id, membership_digest
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse

AUDIENCE = "23850000000000001"
# The fake in a child process on a free port (the machine is shared: fixed ports may be taken); prints its URL.
SERVE = """
import time
from reverse_etl.sandbox.meta import MetaFake
from reverse_etl.sandbox.server import FakeServer
with FakeServer(MetaFake()) as server:
    print(server.url, flush=True)
    while True:
        time.sleep(3600)
"""


@contextlib.contextmanager
def fake_process():
    """The Meta fake in a child process; yields (its URL, the child's pid)."""
    child = subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip(), child.pid
    finally:
        child.terminate()
        child.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prefill(url: str, token: str, strangers: int) -> None:
    """Strangers added through the fake's users edge, 10,000 per request."""
    session = requests.Session()
    for start in range(0, strangers, 10_000):
        data = [
            [ids.sha256_hex(f"stranger{n}@example.net")] for n in range(start, min(start + 10_000, strangers))
        ]
        response = session.post(
            f"{url}/v21.0/{AUDIENCE}/users",
            headers={"Authorization": f"Bearer {token}"},
            json={"payload": {"schema": ["EMAIL"], "data": data}},
            timeout=60,
        )
        response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--strangers", type=int, default=100_000)
    args = parser.parse_args()
    token = MetaFake().token
    expected = {member_id(ids.sha256_hex(f"person{n}@example.org")) for n in range(1, args.rows + 1)}
    with tempfile.TemporaryDirectory() as folder:
        target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
        connection = connect(target)
        connection.execute("create schema activation")
        connection.execute(
            "create table activation.audience as select 'cus_' || n as customer_id, "
            "'Person' || n || '@Example.org' as emails, cast(null as varchar) as phones from range(1, ? + 1) as t(n)",
            [args.rows],
        )
        connection.close()
        with fake_process() as (url, pid):
            prefill(url, token, args.strangers)
            before = requests.get(f"{url}/_sandbox/meta/{AUDIENCE}", timeout=60).json()
            os.environ["BENCH_META_TOKEN"] = token
            sync = SyncConfig(
                name="bench_meta_audience",
                model="audience",
                relation=Relation(None, "activation", "audience"),
                destination="meta",
                mode=Mode.AUDIENCE_REPLACE,
                primary_key="customer_id",
                fields={"emails": "emails", "phones": "phones"},
                options={"base_url": url, "audience_id": AUDIENCE, "token_env": "BENCH_META_TOKEN"},
                max_change_share=1.0,
            )
            warehouse = Warehouse(target)
            started = time.perf_counter()
            summary = run_sync(warehouse, sync)
            seconds = time.perf_counter() - started
            warehouse.close()
            after = requests.get(f"{url}/_sandbox/meta/{AUDIENCE}", timeout=60).json()
            fake_mb = peak_rss_mb(pid)
    equal = (
        after["members"] == len(expected)
        and after["digest"] == membership_digest(expected)
        and not after["replace_session_open"]
    )
    print(f"rows: {args.rows:,}; audience before the run: {before['members']:,} strangers")
    print(
        f"audience_replace: {summary.confirmed:,} confirmed, {summary.rejected:,} rejected in {seconds:.1f} s "
        f"= {summary.confirmed / seconds:,.0f} rows/s"
    )
    print(
        f"audience after the run: {after['members']:,} members; equal to the model: {'yes' if equal else 'NO'}"
    )
    print(f"peak RSS of the fake's process: {fake_mb:,.0f} MB")
    sys.exit(0 if equal and summary.confirmed == args.rows else 1)


if __name__ == "__main__":
    main()
