"""Benchmark: `cdp sync list`, `cdp sync status` and `cdp identity explain` timed as whole processes (start-up,
imports, manifest, warehouse queries) on a demo warehouse, with the dbt project unchanged since the last parse.

    python bench/commands.py --people 2000 --repeat 5
    python bench/commands.py --baseline ../cdp-previous     # the same commands of another checkout, same run

The demo warehouse (generated and built once, in a temporary folder) is shared by both checkouts. Each command
runs once untimed first (a parse when the project changed: that cost is printed apart as "first"), then
--repeat times; the median and the best are printed. --baseline names another checkout of the project (for
example `git worktree add ../cdp-previous <commit>`): its commands run with its own code and target folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import new_duckdb_warehouse  # noqa: E402

COMMANDS = {
    "sync list": ["sync", "list"],
    "sync status": ["sync", "status"],
    "identity explain": ["identity", "explain", "{email}"],
}


def timed(checkout: Path, args: list[str], env: dict[str, str]) -> float:
    """Seconds for `cdp <args>` run from `checkout`'s code in a process of its own."""
    code = f"import sys; sys.path.insert(0, {str(checkout)!r}); from reverse_etl.cli import main; main()"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**env, "CDP_PROJECT_DIR": str(checkout)},
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cdp {' '.join(args)} failed in {checkout}: {done.stderr.strip()[-500:]}")
    return seconds


def measure(checkout: Path, env: dict[str, str], email: str, repeat: int) -> None:
    for label, template in COMMANDS.items():
        args = [part.replace("{email}", f"email:{email}") for part in template]
        first = timed(checkout, args, env)
        runs = [timed(checkout, args, env) for _ in range(repeat)]
        print(
            f"  {label:<18} median {statistics.median(runs):5.2f} s  best {min(runs):5.2f} s"
            f"  (first {first:5.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to time the same way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-commands-") as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        warehouse.generate(people=args.people, seed=args.seed)
        warehouse.dbt("build", "--quiet")
        email = warehouse.scalar(
            "select identifier_value from identity.identity_graph where identifier_type = 'email'"
            " order by identifier_value limit 1"
        )
        env = {**os.environ, **warehouse.env, "CDP_LOCK_DIR": str(Path(folder) / "locks")}
        env.pop("DBT_TARGET_PATH", None)
        print(
            f"demo warehouse: {args.people:,} people (seed {args.seed}); load average {os.getloadavg()[0]:.2f}"
        )
        checkouts = [("this checkout", ROOT)] + (
            [("baseline", args.baseline.resolve())] if args.baseline else []
        )
        for name, checkout in checkouts:
            print(f"{name}:")
            measure(checkout, env, email, args.repeat)
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
