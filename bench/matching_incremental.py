"""Benchmark: an incremental `cdp match` after 1% new records against a full scoring run of the same records.

    python bench/matching_incremental.py --people 100000 --offline-share 0.1

On a DuckDB file of `--people` generated people it runs `cdp match` in full, adds `--new-share` of the matched
records as new CRM contacts (copies of existing contacts with a first-name typo, so they have matches to
find), runs `cdp match` again (incremental: the new records against all the others) and then `cdp match
--full` on the same records. It prints each run's wall time (reading, hashing, scoring, writing) and scoring
time, checks that both runs wrote the same links, and prints the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import ROOT, Warehouse, new_duckdb_warehouse  # noqa: E402
from reverse_etl.generator.load import generate  # noqa: E402
from reverse_etl.matching.config import load  # noqa: E402
from reverse_etl.matching.run import MatchSummary, run_match  # noqa: E402

STAGING = ("stg_crm__contacts", "stg_shop__orders", "stg_support__tickets")
LINKS = (
    "select source_table_l, record_id_l, source_table_r, record_id_r, round(match_probability, 9), fired_levels "
    "from matching.record_links"
)


def timed_match(warehouse: Warehouse, full: bool) -> tuple[MatchSummary, float]:
    started = time.perf_counter()
    summary = run_match(warehouse.target, load(ROOT, {"enabled": True}), full=full)
    return summary, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--offline-share", type=float, default=0.1)
    parser.add_argument("--new-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(f"load average at the start: {', '.join(f'{value:.1f}' for value in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="cdp-bench-matching-incremental-") as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        generate(warehouse.target, people=args.people, seed=args.seed, offline_share=args.offline_share)
        warehouse.dbt("seed", "--quiet")  # staging reads the seeds
        warehouse.dbt("run", "--quiet", "--select", *STAGING)  # views over the raw tables
        first, first_seconds = timed_match(warehouse, full=False)
        added = round(first.records * args.new_share)
        warehouse.execute(
            "insert into raw.crm_contacts by name select * replace (contact_id || '_new' as contact_id, "
            "first_name || 'e' as first_name) from raw.crm_contacts order by hash(contact_id) limit ?",
            (added,),
        )
        incremental, incremental_seconds = timed_match(warehouse, full=False)
        incremental_links = set(warehouse.query(LINKS))
        full, full_seconds = timed_match(warehouse, full=True)
        same = incremental_links == set(warehouse.query(LINKS))
        assert not incremental.full and full.full
        print(f"{args.people:,} people, {first.records:,} records matched; {added:,} new CRM contacts added")
        print(f"{'run':<32} {'records scored':>14} {'score s':>8} {'wall s':>8}")
        for name, summary, seconds in (
            ("first run (full)", first, first_seconds),
            ("incremental, new records", incremental, incremental_seconds),
            ("--full, same records", full, full_seconds),
        ):
            print(f"{name:<32} {summary.scored_records:>14,} {summary.score_seconds:>8.2f} {seconds:>8.2f}")
        print(
            f"incremental / full: scoring {incremental.score_seconds / full.score_seconds:.1%}, "
            f"wall {incremental_seconds / full_seconds:.1%}; same links: {same} ({full.links:,} pairs)"
        )
        print(f"load average at the end: {', '.join(f'{value:.1f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
