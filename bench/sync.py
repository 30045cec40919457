"""Benchmark: the sync engine on DuckDB against the unthrottled local webhook fake.

    python bench/sync.py --rows 1000000

Prints: the warehouse-side diff time (first run: all added; then with 1% changed), engine throughput of a
full sync (rows/s), and the peak resident memory of the process that ran it. The fake runs in a process of
its own (`cdp sandbox`), so its memory for a million stored records is not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target, connect
from reverse_etl.sandbox.registry import FAKES
from reverse_etl.sandbox.run import BASE_PORT
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync import state
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import DUCKDB_DIFF_MEMORY_LIMIT, Warehouse

PORT = BASE_PORT + 200 + sorted(FAKES).index("webhook")


FAKE_CPU: list[float] = []


@contextlib.contextmanager
def sandbox_process(port: int):
    """`cdp sandbox` in a child process; yields the webhook fake's URL."""
    child = subprocess.Popen(
        [sys.executable, "-m", "reverse_etl.cli", "sandbox", "--base-port", str(BASE_PORT + 200)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        FAKE_CPU.append(usage.ru_utime + usage.ru_stime)


def build_model(path: str, rows: int) -> None:
    connection = connect(Target(name="duckdb", type="duckdb", path=path))
    connection.execute("create schema activation")
    connection.execute(
        "create table activation.people as select 'key_' || n as person_key, 'p' || n || '@example.org' as email, "
        "n as score, 'segment_' || (n % 7) as segment from range(1, ? + 1) as t(n)",
        [rows],
    )
    connection.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--build-model", metavar="DUCKDB_PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_model:
        build_model(args.build_model, args.rows)
        return
    with tempfile.TemporaryDirectory() as folder:
        target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
        # The model is built in a child process, so the peak memory below is the sync engine's alone.
        subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--build-model", target.path], check=True
        )
        children_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        FAKE_CPU.append(children_cpu.ru_utime + children_cpu.ru_stime)
        with sandbox_process(PORT) as url:
            os.environ["BENCH_WEBHOOK_TOKEN"] = WebhookFake().token
            sync = SyncConfig(
                name="bench_people",
                model="people",
                relation=Relation(None, "activation", "people"),
                destination="webhook",
                mode=Mode.UPSERT,
                primary_key="person_key",
                fields={"email": "email", "score": "score", "segment": "segment"},
                options={"url": f"{url}/records", "token_env": "BENCH_WEBHOOK_TOKEN"},
                max_change_share=1.0,
            )
            warehouse = Warehouse(target)
            state.ensure_state(warehouse)
            fields = state.mapping(sync, ["person_key", "email", "score", "segment"])
            started, cpu_started = time.perf_counter(), cpu_seconds()
            with warehouse.memory_capped(DUCKDB_DIFF_MEMORY_LIMIT):
                first = state.compute_diff(warehouse, sync, fields)
            first_diff, first_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started

            started, cpu_started = time.perf_counter(), cpu_seconds()
            summary = run_sync(warehouse, sync)
            sync_seconds, sync_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started

            warehouse.execute("update activation.people set score = score + 1 where score % 100 = 0")
            warehouse.commit()
            started, cpu_started = time.perf_counter(), cpu_seconds()
            with warehouse.memory_capped(DUCKDB_DIFF_MEMORY_LIMIT):
                second = state.compute_diff(warehouse, sync, fields)
            second_diff, second_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
            warehouse.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows: {args.rows:,}")
    print(f"diff, first run (all added: {first.added:,}): {first_diff:.2f} s (CPU {first_cpu:.2f} s)")
    print(f"diff, 1% changed ({second.changed:,} changed): {second_diff:.2f} s (CPU {second_cpu:.2f} s)")
    print(
        f"full sync: {summary.confirmed:,} confirmed in {sync_seconds:.1f} s = {summary.confirmed / sync_seconds:,.0f} rows/s"
    )
    print(
        f"CPU time of the engine process during the sync: {sync_cpu:.1f} s "
        f"({sync_cpu / max(summary.confirmed, 1) * 1e6:.1f} us a row; the fake runs in another process)"
    )
    print(f"CPU time of the fake's process (whole benchmark): {FAKE_CPU[1] - FAKE_CPU[0]:.1f} s")
    print(f"peak RSS of the process: {peak_mb:,.0f} MB")
    sys.exit(0 if summary.confirmed == args.rows else 1)


if __name__ == "__main__":
    main()
