"""A sync run in a process of its own, for the crash test: python tests/sync_worker.py DUCKDB_PATH URL."""

from __future__ import annotations

import sys

from reverse_etl.destinations.base import Mode
from reverse_etl.errors import CdpError
from reverse_etl.project import Target
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse


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
    warehouse = Warehouse(Target(name="duckdb", type="duckdb", path=path))
    try:
        print(run_sync(warehouse, sync).describe(), flush=True)
    except CdpError as error:
        print(f"error: {error}", flush=True)
        sys.exit(error.exit_code)
    finally:
        warehouse.close()


if __name__ == "__main__":
    main()
