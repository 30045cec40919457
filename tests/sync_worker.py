"""A sync run in a process of its own, for the crash tests: python tests/sync_worker.py DUCKDB_PATH URL, or
python tests/sync_worker.py spark URL ROWS for a model in Spark (the CDP_SPARK_* environment; the model's ROWS
rows are written first when the table is missing, so the test process needs no Spark session of its own)."""

from __future__ import annotations

import sys

from reverse_etl.destinations.base import Mode
from reverse_etl.errors import CdpError
from reverse_etl.project import Target
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse, sync_warehouse


def spark_warehouse(rows: int) -> Warehouse:
    from reverse_etl.project import load_target
    from reverse_etl.spark import spark_session

    session = spark_session()
    session.sql("create schema if not exists activation")
    session.sql(
        "create table if not exists activation.people using parquet as select concat('key_', cast(id as string)) "
        "as person_key, concat('p', cast(id as string), '@example.org') as email, id as score "
        f"from range(1, {int(rows)} + 1)"
    )
    return sync_warehouse(load_target("spark"))


def main() -> None:
    path, url = sys.argv[1], sys.argv[2]
    sync = SyncConfig(
        name="crash_people",
        model="people",
        relation=Relation(None, "activation", "people"),
        destination="webhook",
        mode=Mode.MIRROR,
        primary_key="person_key",
        fields={"email": "email", "score": "score"},
        options={"url": url, "token_env": "TEST_WEBHOOK_TOKEN", "batch_size": 500},
        max_change_share=1.0,
    )
    warehouse = (
        spark_warehouse(int(sys.argv[3]))
        if path == "spark"
        else Warehouse(Target(name="duckdb", type="duckdb", path=path))
    )
    try:
        print(run_sync(warehouse, sync).describe(), flush=True)
    except CdpError as error:
        print(f"error: {error}", flush=True)
        sys.exit(error.exit_code)
    finally:
        warehouse.close()


if __name__ == "__main__":
    main()
