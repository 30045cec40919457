"""Benchmark: the whole project on Spark against DuckDB on the same generated data in the same run (seconds per
layer), and the connected-components step alone on Spark, DuckDB and scipy on the same edges.

    python bench/spark.py --people 2000 200000
    python bench/spark.py --people 2000 --standalone
    python bench/spark.py --components 100000 1000000

For each size, DuckDB then Spark: `cdp generate` of the same people and seed, then `dbt seed` and `dbt run`
(every model, contracts enforced; --data-tests runs `dbt build` instead, with every unit and data test: on
Spark each test is one small job, which at demo sizes outweighs the models). The seconds per layer are the sum
of dbt's execution time of the nodes in that layer's folders (run_results.json: DuckDB runs 2 threads, Spark
1, so a DuckDB layer's sum can exceed its share of the wall time). "components" is the connected-components
step inside the build (identity_component_runs).

Spark runs in-process on local[2] (CDP_SPARK_MASTER, CDP_SPARK_SHUFFLE_PARTITIONS as in docs/scale_out.md;
the driver gets --driver-memory). --standalone starts a Spark standalone master and one worker (2 cores) on
127.0.0.1 with the launcher that ships in the pyspark package (bin/spark-class ...Master / ...Worker; the
package has no sbin/start-master.sh), runs the Spark side against spark://127.0.0.1:<port>, and stops them
afterwards. --master spark://host:port uses a
master that is already running.

--components: identity-shaped graphs (bench/identity.py) of each size; the project's macro
(run_connected_components) on Spark and on DuckDB, scipy on the same edges; every partition checked against
scipy's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from identity import identity_shaped, same_partition, scipy_seconds  # noqa: E402

import graphs  # noqa: E402
from conftest import Warehouse, environment, new_duckdb_warehouse  # noqa: E402

# Row counts printed with each size: the tables the scale model (docs/scale_out.md) reasons from.
COUNTED = (
    "intermediate.int_identifiers_validated",
    "intermediate.int_identity_edges",
    "identity.identity_graph",
    "identity.identity_records",
    "marts.customers",
    "marts.events",
    "marts.order_lines",
    "segments.segment_memberships",
)

LAYERS = ("seeds", "staging", "identity", "privacy", "marts", "segments", "activation", "tests")

# models/<folder>/... -> layer; intermediate/<area>/ goes with what it feeds.
FOLDER_LAYERS = {
    "staging": "staging",
    "identity": "identity",
    "intermediate/identity": "identity",
    "privacy": "privacy",
    "intermediate/customers": "marts",
    "intermediate/orders": "marts",
    "marts": "marts",
    "segments": "segments",
    "activation": "activation",
}


def layer_of(resource_type: str, path: str) -> str:
    """The layer of a dbt node: seeds and tests by kind, models by the folder under models/."""
    if resource_type == "seed":
        return "seeds"
    if resource_type in ("test", "unit_test"):
        return "tests"
    parts = Path(path).parts
    folders = parts[1:-1] if parts and parts[0] == "models" else parts[:-1]
    for depth in (2, 1):
        layer = FOLDER_LAYERS.get("/".join(folders[:depth]))
        if layer:
            return layer
    return "other"


def layer_seconds(results: list[Any]) -> dict[str, float]:
    """Sum of dbt's execution time per layer (results of one or more invocations)."""
    layers: dict[str, float] = {}
    for result in results:
        node = getattr(result, "node", None)
        if node is None:
            continue
        layer = layer_of(str(node.resource_type), str(node.original_file_path))
        layers[layer] = layers.get(layer, 0.0) + float(result.execution_time)
    return layers


@dataclass
class Build:
    engine: str
    people: int
    raw_rows: int
    generate_seconds: float
    build_seconds: float
    layers: dict[str, float]
    components_seconds: float
    components_rounds: int
    customers: int
    load: tuple[float, float]
    rows: dict[str, int]
    stored_bytes: int


def load_average() -> float:
    return os.getloadavg()[0]


def build(warehouse: Warehouse, engine: str, people: int, seed: int, data_tests: bool) -> Build:
    # The Spark session is opened with the CDP_SPARK_* of the moment: a query outside this block would reopen it
    # on another warehouse folder.
    with environment(warehouse.env):
        return timed_build(warehouse, engine, people, seed, data_tests)


def timed_build(warehouse: Warehouse, engine: str, people: int, seed: int, data_tests: bool) -> Build:
    load_before = load_average()
    started = time.perf_counter()
    summary = warehouse.generate(people=people, seed=seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    results = list(warehouse.dbt("seed", "--quiet").results)
    if data_tests:
        results += warehouse.dbt("build", "--quiet", "--exclude", "resource_type:seed").results
    else:
        results += warehouse.dbt("run", "--quiet").results
    built = time.perf_counter() - started
    layers = layer_seconds(results)
    print(
        f"  {engine}: generate + load {generated:.1f} s, build {built:.1f} s ("
        + ", ".join(f"{layer} {seconds:.1f}" for layer, seconds in layers.items())
        + ")",
        flush=True,
    )
    seconds, rounds = warehouse.query(
        "select seconds, rounds from intermediate.identity_component_runs order by run_started_at desc limit 1"
    )[0]
    return Build(
        engine=engine,
        people=people,
        raw_rows=summary.total_rows,
        generate_seconds=generated,
        build_seconds=built,
        layers=layers,
        components_seconds=float(seconds),
        components_rounds=int(rounds),
        customers=int(warehouse.scalar("select count(*) from marts.customers")),
        load=(load_before, load_average()),
        rows={name: int(warehouse.scalar(f"select count(*) from {name}")) for name in COUNTED},
        stored_bytes=stored_bytes(warehouse),
    )


def stored_bytes(warehouse: Warehouse) -> int:
    """Bytes on disk: the DuckDB file, or every file under the Spark warehouse folder (parquet + metastore)."""
    if warehouse.kind == "duckdb":
        return Path(warehouse.env["CDP_DUCKDB_PATH"]).stat().st_size
    folder = Path(warehouse.env["CDP_SPARK_WAREHOUSE_DIR"])
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def print_builds(duck: Build, spark: Build) -> None:
    print(
        f"people={duck.people:,}: {duck.raw_rows:,} raw rows, customers DuckDB {duck.customers:,}"
        f" / Spark {spark.customers:,}"
    )
    print(f"  {'seconds':<22} {'DuckDB':>9} {'Spark':>9} {'Spark/DuckDB':>13}")
    rows = [("generate + load", duck.generate_seconds, spark.generate_seconds)]
    rows += [
        (f"  {layer}", duck.layers[layer], spark.layers[layer]) for layer in LAYERS if layer in duck.layers
    ]
    rows.append(("  (sum of nodes)", sum(duck.layers.values()), sum(spark.layers.values())))
    rows.append(("build wall", duck.build_seconds, spark.build_seconds))
    rows.append(("components step", duck.components_seconds, spark.components_seconds))
    for name, duck_seconds, spark_seconds in rows:
        ratio = spark_seconds / duck_seconds if duck_seconds > 0 else float("nan")
        print(f"  {name:<22} {duck_seconds:>9.1f} {spark_seconds:>9.1f} {ratio:>13.1f}")
    print(
        f"  components rounds: DuckDB {duck.components_rounds}, Spark {spark.components_rounds};"
        f" load average DuckDB {duck.load[0]:.1f}-{duck.load[1]:.1f}, Spark {spark.load[0]:.1f}-{spark.load[1]:.1f}",
        flush=True,
    )
    print(
        f"  stored: DuckDB file {duck.stored_bytes / 2**20:,.0f} MiB, Spark folder {spark.stored_bytes / 2**20:,.0f} MiB"
    )
    print(
        "  rows: " + ", ".join(f"{name.split('.')[-1]} {count:,}" for name, count in duck.rows.items()),
        flush=True,
    )


def spark_warehouse(folder: Path, master: str, driver_memory: str) -> Warehouse:
    return Warehouse(
        "spark",
        {
            "CDP_SPARK_WAREHOUSE_DIR": str(folder / "spark-warehouse"),
            "CDP_SPARK_MASTER": master,
            "CDP_SPARK_DRIVER_MEMORY": driver_memory,
        },
    )


def compare_builds(people: list[int], seed: int, master: str, driver_memory: str, data_tests: bool) -> None:
    for size in people:
        with tempfile.TemporaryDirectory(prefix="cdp-spark-bench-") as folder:
            duck = build(new_duckdb_warehouse(Path(folder)), "duckdb", size, seed, data_tests)
            spark_side = spark_warehouse(Path(folder), master, driver_memory)
            spark = build(spark_side, "spark", size, seed, data_tests)
            print_builds(duck, spark)
            stop_spark()


def stop_spark() -> None:
    from reverse_etl.spark import stop_spark_session

    stop_spark_session()


def load_spark_edges(warehouse: Warehouse, edges: np.ndarray) -> None:
    import pyarrow as pa

    from reverse_etl.spark import spark_session

    spark = spark_session()
    spark.sql("create database if not exists bench")
    spark.sql("drop table if exists bench.edges")
    table = pa.table({"node_a": edges[:, 0].astype(np.int64), "node_b": edges[:, 1].astype(np.int64)})
    spark.createDataFrame(table).write.format("parquet").saveAsTable("bench.edges")


def run_macro(warehouse: Warehouse) -> tuple[int, float]:
    warehouse.dbt(
        "run-operation",
        "--quiet",
        "run_connected_components",
        "--args",
        "{schema: bench, edges: edges, labels: labels}",
    )
    rounds, seconds = warehouse.query("select rounds, seconds from bench.labels_rounds")[0]
    return int(rounds), float(seconds)


def compare_components(sizes: list[int], master: str, driver_memory: str) -> None:
    print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)
    print(
        f"{'nodes':>11} {'edges':>11} {'scipy s':>8} {'DuckDB s':>9} {'rounds':>6} {'Spark s':>8} {'rounds':>6}"
        f" {'Spark/DuckDB':>12} {'Spark/scipy':>11} {'same':>5} {'load':>5}",
        flush=True,
    )
    for size in sizes:
        edges = identity_shaped(size, np.random.default_rng(size))
        reference, labels = scipy_seconds(edges)
        with tempfile.TemporaryDirectory(prefix="cdp-spark-bench-") as folder:
            duck = new_duckdb_warehouse(Path(folder))
            graphs.load_edges(duck, "bench", "edges", edges)
            duck_rounds, duck_seconds = run_macro(duck)
            same = same_partition(duck, edges, labels)
            spark = spark_warehouse(Path(folder), master, driver_memory)
            with environment(spark.env):
                load_spark_edges(spark, edges)
                spark_rounds, spark_seconds = run_macro(spark)
                same &= same_partition(spark, edges, labels)
                stop_spark()
        print(
            f"{size:>11,} {len(edges):>11,} {reference:>8.3f} {duck_seconds:>9.2f} {duck_rounds:>6}"
            f" {spark_seconds:>8.2f} {spark_rounds:>6} {spark_seconds / duck_seconds:>12.1f}"
            f" {spark_seconds / reference:>11.0f} {'yes' if same else 'NO':>5} {load_average():>5.1f}",
            flush=True,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the standalone master did not open port {port} within {seconds:.0f} s")


@contextlib.contextmanager
def standalone_cluster(port: int, worker_memory: str) -> Iterator[str]:
    """A Spark standalone master and one 2-core worker on 127.0.0.1, started with the pyspark package's own
    launcher (bin/spark-class: the package has no sbin/start-master.sh); both stopped on the way out."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    launcher = home / "bin" / "spark-class"
    if not launcher.exists():
        raise SystemExit(f"this pyspark has no standalone launcher ({launcher} is missing)")
    master = f"spark://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    with tempfile.TemporaryDirectory(prefix="cdp-spark-standalone-") as folder:
        logs = Path(folder)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            master_command = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
            master_command += ["--port", str(port), "--webui-port", str(free_port())]
            processes.append(start_daemon(launcher, master_command, env, logs / "master.log"))
            wait_for_port(port, 120)
            worker_command = ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2"]
            worker_command += ["--memory", worker_memory, "--webui-port", str(free_port())]
            worker_command += ["--work-dir", str(logs / "work"), master]
            processes.append(start_daemon(launcher, worker_command, env, logs / "worker.log"))
            time.sleep(10)  # the worker registers with the master
            print(f"standalone master {master}, one worker (2 cores, {worker_memory})", flush=True)
            yield master
        finally:
            for process in reversed(processes):
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def start_daemon(
    launcher: Path, arguments: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen([str(launcher), *arguments], env=env, stdout=handle, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--people", type=int, nargs="*", default=[2000], help="build both engines at these sizes"
    )
    parser.add_argument(
        "--components", type=int, nargs="*", default=[], help="connected components alone (nodes)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--master", default=os.environ.get("CDP_SPARK_MASTER", "local[2]"))
    parser.add_argument("--standalone", action="store_true", help="start a local standalone master + worker")
    parser.add_argument("--port", type=int, default=7077, help="the standalone master's port")
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--worker-memory", default="3g", help="the standalone worker's memory")
    parser.add_argument("--data-tests", action="store_true", help="dbt build (unit and data tests too)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        master = args.master
        if args.standalone:
            master = stack.enter_context(standalone_cluster(args.port, args.worker_memory))
        print(
            f"Spark master {master}; load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True
        )
        compare_builds(args.people, args.seed, master, args.driver_memory, args.data_tests)
        if args.components:
            compare_components(args.components, master, args.driver_memory)
    print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
