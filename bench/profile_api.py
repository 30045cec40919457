"""Benchmark: the profile store and the profile API, per backend (SQLite and Redis).

    python bench/profile_api.py --people 1000000 --seconds 60 --rate 1000

For each backend: a DuckDB model of `--people` synthetic profiles (an email, a phone, an anonymous id each) is
synced to the store through the sync engine (mirror; the initial load, timed), then 1% of the profiles change
and a second run writes them (timed). The API then runs in a process of its own (uvicorn, as `cdp profiles
serve` runs it) and a load generator in another process sends requests closed-loop at `--rate` per second for
`--seconds`: 90% hits (a third each by an upper-cased email, a phone in national format, an anonymous id), 10%
misses. Latency is measured from each request's send to its answer; a hit must answer 200 and a miss 404, and
anything else counts as an error. Then the throughput ceiling: rates of `--ceiling-rates` for
`--ceiling-seconds` each, until p99 passes 50 ms or the achieved rate falls below 90% of the asked one.
Redis keys go under a prefix of their own (removed at the end) in database 0 of `--redis-url`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

TOKEN = "bench-profile-token-0123456789"
THREADS = 16


def build_model(path: str, people: int) -> None:
    from reverse_etl.project import Target, connect

    connection = connect(Target(name="duckdb", type="duckdb", path=path))
    connection.execute("create schema if not exists activation")
    connection.execute(
        "create or replace table activation.profiles as select 'cus_' || n as customer_id, "
        "'[\"p' || n || '@example.net\"]' as emails, '[\"+1' || (2000000000 + n) || '\"]' as phones, "
        "'[\"anon-' || n || '\"]' as anonymous_ids, 'First' || n as first_name, 'Last' || n as last_name, "
        "n % 17 as orders, round((n % 1000) * 1.5, 2) as revenue, '[\"segment_' || (n % 5) || '\"]' as segments, "
        "n % 3 = 0 as has_email_consent from range(1, ? + 1) as t(n)",
        [people],
    )
    connection.close()


def sync_run(path: str, options: dict[str, Any], allow: bool = False) -> tuple[float, Any]:
    from reverse_etl.destinations.base import Mode
    from reverse_etl.destinations.profile_store import ProfileStoreDestination
    from reverse_etl.http import HttpClient
    from reverse_etl.project import Target
    from reverse_etl.sync.config import Relation, SyncConfig
    from reverse_etl.sync.runner import run_sync
    from reverse_etl.warehouse import Warehouse

    sync = SyncConfig(
        name="bench_profiles",
        model="profiles",
        relation=Relation(None, "activation", "profiles"),
        destination="profile_store",
        mode=Mode.MIRROR,
        primary_key="customer_id",
        options=options,
    )
    warehouse = Warehouse(Target(name="duckdb", type="duckdb", path=path))
    started = time.perf_counter()
    try:
        destination = ProfileStoreDestination(options, lambda name: "", HttpClient())
        summary = run_sync(warehouse, sync, destination=destination, allow_mass_change=allow)
    finally:
        warehouse.close()
    return time.perf_counter() - started, summary


def serve(options: dict[str, Any], port: int) -> None:
    """The API alone in this process, as `cdp profiles serve` runs it."""
    import uvicorn

    from reverse_etl.profiles.api import make_app
    from reverse_etl.profiles.auth import Tokens
    from reverse_etl.profiles.normalize import load_rules
    from reverse_etl.profiles.settings import StoreSettings
    from reverse_etl.project import project_dir

    app = make_app(
        StoreSettings.parse(options).open(), load_rules(project_dir()), Tokens.parse(f"{TOKEN}:profiles.read")
    )
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", server_header=False)


def request_mix(people: int, count: int, seed: int) -> list[tuple[str, int]]:
    chooser = random.Random(seed)
    mix = []
    for _ in range(count):
        n, kind = chooser.randint(1, people), chooser.random()
        if kind < 0.3:
            mix.append((f"/api/v1/profiles/email/{quote(f'P{n}@EXAMPLE.NET')}", 200))
        elif kind < 0.6:
            digits = str(2000000000 + n)
            mix.append((f"/api/v1/profiles/phone/{quote(f'({digits[:3]}) {digits[3:6]}-{digits[6:]}')}", 200))
        elif kind < 0.9:
            mix.append((f"/api/v1/profiles/anonymous_id/anon-{n}", 200))
        else:
            mix.append((f"/api/v1/profiles/email/{quote(f'nobody{n}@example.net')}", 404))
    return mix


def load(port: int, people: int, rate: float, seconds: float) -> dict[str, Any]:
    """Closed loop: THREADS workers, each sending its share of `rate` on schedule, one request at a time."""
    latencies: list[list[float]] = [[] for _ in range(THREADS)]
    errors = [0] * THREADS
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for number, (path, expected) in enumerate(request_mix(people, total // THREADS, seed=index)):
            due = start + (number * THREADS + index) / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            latencies[index].append(time.perf_counter() - sent)
            errors[index] += status != expected

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    every = sorted(latency for part in latencies for latency in part)

    def percentile(share: float) -> float:
        return every[min(len(every) - 1, int(share * len(every)))] * 1000

    return {
        "requests": len(every),
        "achieved_rate": len(every) / elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "p999_ms": percentile(0.999),
        "max_ms": every[-1] * 1000,
        "errors": sum(errors),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def api_process(options: dict[str, Any]):
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", json.dumps(options), "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.05)
        yield port
    finally:
        child.terminate()
        child.wait()


def load_process(port: int, people: int, rate: float, seconds: float) -> dict[str, Any]:
    """The load generator in a process of its own (it must not share the server's interpreter)."""
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            str(port),
            "--people",
            str(people),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def bench_backend(backend: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    model = str(folder / f"{backend}.duckdb")
    build_model(model, args.people)
    if backend == "sqlite":
        options: dict[str, Any] = {"backend": "sqlite", "path": str(folder / "profiles.sqlite")}
    else:
        options = {
            "backend": "redis",
            "url": args.redis_url,
            "key_prefix": f"cdpbench:{uuid.uuid4().hex[:8]}:",
        }
    options["batch_size"] = 5000
    result: dict[str, Any] = {"backend": backend, "people": args.people}
    try:
        result["initial_load_s"], summary = sync_run(model, options)
        assert summary.confirmed == args.people, summary.describe()
        from reverse_etl.project import Target, connect

        connection = connect(Target(name="duckdb", type="duckdb", path=model))
        connection.execute(
            "update activation.profiles set orders = orders + 100 where hash(customer_id) % 100 = 0"
        )
        connection.close()
        result["update_1pct_s"], summary = sync_run(model, options)
        result["update_rows"] = summary.confirmed
        with api_process(options) as port:
            load_process(port, args.people, min(args.rate, 500), 3)  # warm-up
            result["load"] = load_process(port, args.people, args.rate, args.seconds)
            result["load"]["loadavg"] = os.getloadavg()
            ceiling: list[dict[str, Any]] = []
            for rate in args.ceiling_rates:
                step = load_process(port, args.people, rate, args.ceiling_seconds)
                step["rate"] = rate
                ceiling.append(step)
                print(json.dumps({"backend": backend, "step": step}), file=sys.stderr)
                if step["p99_ms"] > 50 or step["achieved_rate"] < 0.9 * rate:
                    break
            result["ceiling_steps"] = ceiling
            passing = [
                s["rate"] for s in ceiling if s["p99_ms"] <= 50 and s["achieved_rate"] >= 0.9 * s["rate"]
            ]
            result["ceiling_rate"] = max(passing, default=0)
    finally:
        if backend == "redis":
            from reverse_etl.profiles.settings import StoreSettings

            store = StoreSettings.parse(options).open()
            store.clear()  # type: ignore[attr-defined]
            store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "redis"])
    parser.add_argument(
        "--ceiling-rates", type=float, nargs="+", default=[1000, 1500, 2000, 2500, 3000, 4000]
    )
    parser.add_argument("--ceiling-seconds", type=float, default=10)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(json.loads(args.serve), args.port)
        return
    if args.load:
        print(json.dumps(load(args.load, args.people, args.rate, args.seconds)))
        return
    # The model's ten columns at a million rows need more than the engine's default cap while the outbox is read.
    os.environ.setdefault("CDP_DUCKDB_MEMORY_LIMIT", "1GB")
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends:
            print(json.dumps(bench_backend(backend, args, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
