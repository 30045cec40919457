"""Benchmark: a mass audience replace through the sync engine to a destination's local fake.

    python bench/audience_replace.py --destination google_ads --rows 1000000 --strangers 100000

The fake runs in a process of its own (`cdp sandbox`) and starts with `--strangers` members nobody syncs. One
audience_replace run of a DuckDB model of `--rows` people (one email each) must leave the audience equal to the
model: the strangers gone, every person in. Prints the run's time and rows/s, and whether the membership matches
(exit code 1 if not). Each destination is one entry of DESTINATIONS: sync options, mapped fields, and how to
pre-fill and read the fake's audience through its /sandbox/ routes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target, connect
from reverse_etl.sandbox.google_ads import GoogleAdsFake, member_key
from reverse_etl.sandbox.registry import FAKES
from reverse_etl.sandbox.run import BASE_PORT
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse

SANDBOX_PORT = BASE_PORT + 300


@dataclass(frozen=True)
class Audience:
    """What the benchmark needs to know of one destination and its fake."""

    options: Callable[[str], dict]  # sync options, given the fake's URL
    fields: dict[str, str]  # destination field -> model column
    environment: dict[str, str]  # credentials the options name
    prefill: Callable[[str, int], None]  # put strangers in the fake's audience
    members: Callable[[str], set]  # the fake's audience, as comparable keys
    expected: Callable[[list[str]], set]  # the same keys for the model's emails


GOOGLE_LIST = "customers/1234567890/userLists/5550001"
DESTINATIONS: dict[str, Audience] = {
    "google_ads": Audience(
        options=lambda url: {
            "base_url": url,
            "customer_id": "1234567890",
            "user_list_id": "5550001",
            "consent": {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"},
            "token_env": "BENCH_GOOGLE_ADS_TOKEN",
            "developer_token_env": "BENCH_GOOGLE_ADS_DEVELOPER_TOKEN",
        },
        fields={"emails": "email"},
        environment={
            "BENCH_GOOGLE_ADS_TOKEN": GoogleAdsFake().token,
            "BENCH_GOOGLE_ADS_DEVELOPER_TOKEN": GoogleAdsFake().developer_token,
        },
        prefill=lambda url, count: requests.post(
            f"{url}/sandbox/{GOOGLE_LIST}:prefill", json={"count": count, "seed": 7}, timeout=600
        ).raise_for_status(),
        members=lambda url: set(
            requests.get(f"{url}/sandbox/{GOOGLE_LIST}/members", timeout=600).json()["keys"]
        ),
        expected=lambda emails: {
            member_key({"hashedEmail": hashlib.sha256(email.encode()).hexdigest()}) for email in emails
        },
    ),
}


@contextlib.contextmanager
def sandbox_process(name: str):
    """`cdp sandbox` in a child process; yields the URL of the named fake and a function giving its RSS in MB."""
    port = SANDBOX_PORT + sorted(FAKES).index(name)
    child = subprocess.Popen(
        [sys.executable, "-m", "reverse_etl.cli", "sandbox", "--base-port", str(SANDBOX_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", lambda: resident_mb(child.pid)
    finally:
        child.terminate()
        child.wait()


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--destination", choices=sorted(DESTINATIONS), default="google_ads")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--strangers", type=int, default=100_000)
    args = parser.parse_args()
    audience = DESTINATIONS[args.destination]
    os.environ.update(audience.environment)
    with tempfile.TemporaryDirectory() as folder:
        target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
        connection = connect(target)
        connection.execute("create schema activation")
        connection.execute(
            "create table activation.audience as select 'cus_' || n as customer_id, "
            "'person' || n || '@example.org' as email from range(1, ? + 1) as t(n)",
            [args.rows],
        )
        emails = [row[0] for row in connection.execute("select email from activation.audience").fetchall()]
        connection.close()
        with sandbox_process(args.destination) as (url, fake_mb):
            audience.prefill(url, args.strangers)
            sync = SyncConfig(
                name=f"bench_{args.destination}_audience",
                model="audience",
                relation=Relation(None, "activation", "audience"),
                destination=args.destination,
                mode=Mode.AUDIENCE_REPLACE,
                primary_key="customer_id",
                fields=audience.fields,
                options=audience.options(url),
                max_change_share=1.0,
            )
            warehouse = Warehouse(target)
            started = time.perf_counter()
            summary = run_sync(warehouse, sync)
            seconds = time.perf_counter() - started
            warehouse.close()
            members = audience.members(url)
            fake_rss = fake_mb()
    expected = audience.expected(emails)
    equal = members == expected
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"destination: {args.destination}; rows: {args.rows:,}; strangers before: {args.strangers:,}")
    print(
        f"audience replace: {summary.confirmed:,} confirmed, {summary.rejected:,} rejected in {seconds:.1f} s "
        f"= {summary.confirmed / seconds:,.0f} rows/s"
    )
    print(f"audience after: {len(members):,} members; equal to the model: {'yes' if equal else 'NO'}")
    print(
        f"peak RSS of the engine process: {peak_mb:,.0f} MB; RSS of the sandbox process at the end: {fake_rss:,.0f} MB"
    )
    sys.exit(0 if equal else 1)


if __name__ == "__main__":
    main()
