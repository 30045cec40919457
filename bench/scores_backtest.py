"""Backtest of the predictive scores in customer_traits (churn_risk, expected_orders_90d, expected_value_90d)
on generated history: build the traits as of a cutoff 90 days before the last order date, then compare the
scores with what the customers did in the 90 days after the cutoff. Prints the figures in docs/customer_360.md.

    python bench/scores_backtest.py --people 20000 --seed 42
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import Warehouse, new_duckdb_warehouse  # noqa: E402

HORIZON_DAYS = 90

# Buyers as of the cutoff, their scores and what they did in (cutoff, cutoff + horizon].
OUTCOMES_SQL = """
with future as (
    select records.customer_id, count(*) as actual_orders, sum(orders.reporting_order_amount) as actual_revenue
    from intermediate.int_orders_converted as orders
    inner join identity.identity_records as records
        on records.source_table = 'stg_shop__orders' and records.record_id = orders.order_id
    where orders.is_completed and orders.ordered_at > {p} and orders.ordered_at <= {p}
    group by records.customer_id
)
select
    traits.customer_id,
    traits.churn_risk,
    traits.expected_orders_90d,
    traits.expected_value_90d,
    traits.days_since_last_order,
    traits.orders,
    traits.revenue,
    traits.first_order_at,
    traits.as_of_at,
    coalesce(future.actual_orders, 0) as actual_orders,
    coalesce(future.actual_revenue, 0) as actual_revenue
from marts.customer_traits as traits
left join future on traits.customer_id = future.customer_id
where traits.orders > 0
order by traits.customer_id
"""


@dataclass
class Backtest:
    cutoff: dt.date
    buyers: int
    churned: int
    churn_auc: float
    recency_auc: float
    top_decile_lift: float
    predicted_orders: float
    actual_orders: int
    orders_mae: float
    naive_orders_mae: float
    predicted_value: float
    actual_value: float
    value_mae: float
    naive_value_mae: float
    pooled_orders_mae: float
    deciles: list[tuple[int, int, float, float, float, float]]


def auc(scores: list[float], positives: list[bool]) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative (ties count half)."""
    ranked = sorted(zip(scores, positives, strict=True), key=lambda pair: pair[0])
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        mean_rank = (index + 1 + end) / 2
        rank_sum += mean_rank * sum(1 for _, positive in ranked[index:end] if positive)
        index = end
    n_pos = sum(positives)
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both churned and retained customers")
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def cutoff_for(warehouse: Warehouse) -> dt.date:
    """HORIZON_DAYS before the day of the last order in the data."""
    last = warehouse.scalar("select max(ordered_at) from staging.stg_shop__orders")
    return last.date() - dt.timedelta(days=HORIZON_DAYS)


def build_as_of(warehouse: Warehouse, cutoff: dt.date) -> None:
    warehouse.dbt(
        "run", "--select", "+customer_traits", "--vars", json.dumps({"cdp_as_of_date": cutoff.isoformat()})
    )


def evaluate(warehouse: Warehouse, cutoff: dt.date) -> Backtest:
    p = "%s" if warehouse.kind == "postgres" else "?"
    start = dt.datetime.combine(cutoff, dt.time())
    rows = warehouse.query(OUTCOMES_SQL.format(p=p), (start, start + dt.timedelta(days=HORIZON_DAYS)))
    if not rows:
        raise ValueError(f"no buyers as of {cutoff}: is customer_traits built with cdp_as_of_date={cutoff}?")
    risk = [float(row[1]) for row in rows]
    churned = [row[9] == 0 for row in rows]
    predicted_orders = [float(row[2]) for row in rows]
    predicted_value = [float(row[3]) for row in rows]
    actual_orders = [int(row[9]) for row in rows]
    actual_value = [float(row[10]) for row in rows]
    # Naive baseline: the customer's lifetime order rate (orders per day since the first order) over 90 days.
    naive_rate = [row[5] / max((row[8] - row[7]).total_seconds() / 86400, 1.0) * HORIZON_DAYS for row in rows]
    naive_value = [rate * float(row[6]) / row[5] for rate, row in zip(naive_rate, rows, strict=True)]
    # Pooled baseline: every buyer gets the base's order rate (all orders over all days since first orders).
    pooled_rate = sum(row[5] for row in rows) / sum(
        max((row[8] - row[7]).total_seconds() / 86400, 1.0) for row in rows
    )
    pooled = [pooled_rate * HORIZON_DAYS] * len(rows)

    by_risk = sorted(range(len(rows)), key=lambda i: (-risk[i], rows[i][0]))
    top = by_risk[: max(1, len(rows) // 10)]
    churn_rate = sum(churned) / len(rows)
    lift = (sum(churned[i] for i in top) / len(top)) / churn_rate

    by_value = sorted(range(len(rows)), key=lambda i: (predicted_value[i], rows[i][0]))
    deciles = []
    for decile in range(10):
        members = by_value[decile * len(rows) // 10 : (decile + 1) * len(rows) // 10]
        n = len(members)
        deciles.append(
            (
                decile + 1,
                n,
                sum(predicted_orders[i] for i in members) / n,
                sum(actual_orders[i] for i in members) / n,
                sum(predicted_value[i] for i in members) / n,
                sum(actual_value[i] for i in members) / n,
            )
        )

    def mae(predicted: list[float], actual: list[float]) -> float:
        return sum(abs(a - b) for a, b in zip(predicted, actual, strict=True)) / len(actual)

    return Backtest(
        cutoff=cutoff,
        buyers=len(rows),
        churned=sum(churned),
        churn_auc=auc(risk, churned),
        recency_auc=auc([float(row[4]) for row in rows], churned),
        top_decile_lift=lift,
        predicted_orders=sum(predicted_orders),
        actual_orders=sum(actual_orders),
        orders_mae=mae(predicted_orders, actual_orders),
        naive_orders_mae=mae(naive_rate, actual_orders),
        predicted_value=sum(predicted_value),
        actual_value=sum(actual_value),
        value_mae=mae(predicted_value, actual_value),
        naive_value_mae=mae(naive_value, actual_value),
        pooled_orders_mae=mae(pooled, actual_orders),
        deciles=deciles,
    )


def report(result: Backtest) -> str:
    lines = [
        f"cutoff {result.cutoff} (scores as of), outcome window {HORIZON_DAYS} days after it",
        f"buyers as of the cutoff: {result.buyers:,}; no order in the window: {result.churned:,}"
        f" ({result.churned / result.buyers:.1%})",
        f"churn_risk AUC: {result.churn_auc:.3f} (days_since_last_order alone: {result.recency_auc:.3f});"
        f" top-decile lift: {result.top_decile_lift:.2f}x",
        f"orders: predicted {result.predicted_orders:,.0f}, actual {result.actual_orders:,}"
        f" (ratio {result.predicted_orders / max(result.actual_orders, 1):.2f});"
        f" MAE per buyer {result.orders_mae:.3f} (baselines: own lifetime rate {result.naive_orders_mae:.3f},"
        f" pooled rate {result.pooled_orders_mae:.3f})",
        f"value: predicted {result.predicted_value:,.0f}, actual {result.actual_value:,.0f}"
        f" (ratio {result.predicted_value / max(result.actual_value, 1):.2f});"
        f" MAE per buyer {result.value_mae:.2f} (lifetime-rate baseline {result.naive_value_mae:.2f})",
        "decile of expected_value_90d | buyers | predicted orders | actual orders | predicted value | actual value",
    ]
    for decile, n, p_orders, a_orders, p_value, a_value in result.deciles:
        lines.append(
            f"  {decile:>2} | {n:>6,} | {p_orders:.3f} | {a_orders:.3f} | {p_value:.2f} | {a_value:.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-backtest-") as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        started = time.perf_counter()
        warehouse.generate(people=args.people, seed=args.seed)
        warehouse.dbt("seed")  # the seeds staging and orders read (dialling plan, event names, rates)
        warehouse.dbt("run", "--select", "stg_shop__orders")  # the view the cutoff is read from
        cutoff = cutoff_for(warehouse)
        build_as_of(warehouse, cutoff)
        result = evaluate(warehouse, cutoff)
        elapsed = time.perf_counter() - started
    print(f"people={args.people:,} seed={args.seed} (DuckDB, {elapsed:.0f} s)")
    print(report(result))


if __name__ == "__main__":
    main()
