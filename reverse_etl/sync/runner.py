"""The run protocol: diff in the warehouse -> destination-sized batches -> per-record results -> one
transaction per window that advances the snapshot only for confirmed rows and records the rejects.
A crash at any point loses nothing: unconfirmed rows are sent again next run (writes are upserts or
deletes by key, so a resend does not duplicate). State goes through one StateStore, chosen once per run."""

from __future__ import annotations

import contextvars
import gc
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager

from reverse_etl.destinations import REGISTRY
from reverse_etl.destinations.base import BatchResult, Destination, Record
from reverse_etl.errors import ConfigError, PartialFailure
from reverse_etl.http import HttpClient, shared_bucket
from reverse_etl.sync import state
from reverse_etl.sync.adhoc import materialize_query, query_columns
from reverse_etl.sync.config import SyncConfig, expand_env, secret_lookup
from reverse_etl.sync.forget import forget_suppressed
from reverse_etl.sync.lock import sync_lock
from reverse_etl.sync.modes import guard_blast_radius
from reverse_etl.sync.recording import recording
from reverse_etl.sync.records import Batch, windows
from reverse_etl.sync.run import Run, RunOptions, RunSummary
from reverse_etl.sync.spark_model import SparkModel
from reverse_etl.sync.store import StateStore, open_store
from reverse_etl.warehouse import DUCKDB_DIFF_MEMORY_LIMIT, Warehouse

__all__ = ["RunOptions", "RunSummary", "check_columns", "make_destination", "run_sync"]


def make_destination(sync: SyncConfig, http: HttpClient | None = None) -> Destination:
    destination_class = REGISTRY.get(sync.destination)
    if destination_class is None:
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync.destination: unknown destination "
            f"'{sync.destination}'; available: {', '.join(sorted(REGISTRY))}"
        )
    if sync.mode not in destination_class.capabilities.modes:
        allowed = ", ".join(sorted(mode.value for mode in destination_class.capabilities.modes))
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}: {sync.destination} does not support mode {sync.mode.value}; it supports {allowed}"
        )
    limit = destination_class.capabilities.rate_limit
    bucket = (
        shared_bucket(
            f"{sync.destination}:{sync.options.get('account', sync.options.get('url', ''))}",
            limit.requests,
            limit.per_seconds,
            limit.burst,
        )
        if limit
        else None
    )
    return destination_class(
        expand_env(sync.options),
        secret_lookup,
        http or HttpClient(bucket=bucket, destination=sync.destination),
    )


def check_columns(
    warehouse: Warehouse, sync: SyncConfig, model: SparkModel | None = None
) -> tuple[list[str], dict[str, str]]:
    if model is not None:
        columns = model.columns()
    elif sync.query:
        columns = query_columns(warehouse, sync)
    else:
        columns = warehouse.columns(sync.relation.schema, sync.relation.name)
    if not columns:
        raise ConfigError(
            f"{sync.name}: model {sync.model} is not built in {(warehouse.models or warehouse.target).describe()}; "
            f"run `cdp dbt build --select {sync.model}`"
        )
    fields = state.mapping(sync, columns)
    missing = sorted({column for column in [sync.primary_key, *fields.values()] if column not in columns})
    if missing:
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync: column(s) {', '.join(missing)} not in model {sync.model} "
            f"(it has {', '.join(columns)})"
        )
    return columns, fields


# A large run makes millions of small objects, and a window's records, fields and results stay alive until the
# window is committed: with CPython's default collector settings each window is promoted to the oldest
# generation and traversed again and again by full collections (about 4 s of a 1M-row run). While a run goes on,
# each page of records is frozen once built (gc.freeze: never traversed; freed by reference counting as usual;
# they hold no reference cycles) and young collections run every SENDING_GC_ALLOCATIONS net allocations instead of
# 700. The last run to end unfreezes and restores the thresholds.
SENDING_GC_ALLOCATIONS = 50_000
_gc_lock = threading.Lock()
_gc_runs = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], SENDING_GC_ALLOCATIONS), *_gc_saved[1:])
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


def run_sync(
    warehouse: Warehouse,
    sync: SyncConfig,
    allow_mass_change: bool = False,
    dry_run: bool = False,
    only_rejected: bool = False,
    destination: Destination | None = None,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Run (or plan, with dry_run) one sync. Raises SyncError when refused, PartialFailure when rows were rejected."""
    options = RunOptions(allow_mass_change, dry_run, only_rejected, progress, should_stop)
    # A model in Spark is diffed there; the run's state is kept in `warehouse`, its state store.
    model = SparkModel(warehouse.models, sync) if warehouse.models is not None else None
    sync = model.store_sync if model is not None else sync
    destination = destination or make_destination(sync)
    _, fields = check_columns(warehouse, sync, model)
    state.ensure_state(warehouse)
    batch_size = min(
        destination.capabilities.max_batch_size, getattr(destination, "batch_size", lambda: 10**9)()
    )
    run = Run(warehouse, sync, destination, fields, batch_size, uuid.uuid4().hex, options, model)
    with (
        sync_lock(warehouse, sync.name),
        warehouse.memory_capped(DUCKDB_DIFF_MEMORY_LIMIT),
        _fewer_collections(),
    ):
        store = open_store(run)
        summary = _plan(run, store) if dry_run else _execute(run, store)
        if model is not None and not dry_run:
            model.refresh_copy(warehouse, run.run_id)
    if summary.status == "partial":
        raise PartialFailure(summary.describe(), summary=summary)
    return summary


def _plan(run: Run, store: StateStore) -> RunSummary:
    """Diff and the exact requests the run would send; no state changes, nothing sent."""
    diff = _diff(run)
    summary = RunSummary(sync_name=run.sync.name, run_id=run.run_id, diff=diff)
    guard_blast_radius(run.sync, diff, run.options.allow_mass_change)
    try:
        for batch in store.batches():
            summary.planned_requests += run.destination.plan_batch(batch.records)
            summary.sent += len(batch.records)
    finally:
        _close(run, store)
    summary.status = "planned"
    return summary


def _execute(run: Run, store: StateStore) -> RunSummary:
    store.close_abandoned_runs()
    if run.model is not None:
        run.model.copy_suppressed(run.warehouse)
    # Forget requests go first and whatever the mode: see reverse_etl.sync.forget.
    forgotten = forget_suppressed(run.warehouse, run.sync, run.destination, run.run_id, run.batch_size)
    diff = _diff(run)
    summary = RunSummary(sync_name=run.sync.name, run_id=run.run_id, diff=diff, forgotten=forgotten)
    guard_blast_radius(run.sync, diff, run.options.allow_mass_change)
    store.begin(summary)
    error: str | None = None
    try:
        deferred = run.destination.capabilities.applies_at_finish
        run.destination.begin_run(run.sync.mode, previously_synced=diff.previously_synced)
        with recording(run.sync.name, run.run_id):
            _send(run, store, summary, deferred)
        run.destination.finish_run(run.sync.mode, success=summary.status != "interrupted")
        if deferred:
            store.apply_accepted()
        if summary.status != "interrupted":
            store.forget_removed()
    except Exception as failure:
        error = str(failure)
        summary.status = "failed"
        raise
    finally:
        _close(run, store)
        if summary.status not in ("failed", "interrupted"):
            summary.status = (
                "partial" if summary.rejected or diff.invalid or forgotten.rejected else "success"
            )
        store.end(summary, error)
    return summary


def _diff(run: Run) -> state.Diff:
    """The run's diff: in the warehouse, or for a model in Spark there (its rows copied into the store)."""
    if run.model is not None:
        return run.model.diff(run.warehouse, run.fields)
    materialize_query(run.warehouse, run.sync)
    return state.compute_diff(run.warehouse, run.sync, run.fields)


def _close(run: Run, store: StateStore) -> None:
    """Drop the copies of model rows the run kept only while it ran."""
    try:
        store.close()
    finally:
        if run.model is not None:
            run.model.close(run.warehouse)


def _send(run: Run, store: StateStore, summary: RunSummary, deferred: bool) -> None:
    """Two stages, a window at a time: while one window's batches are with the destination, the previous
    window's results are committed and the next window is journaled. Sends stay one at a time, in order."""
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"send-{run.sync.name}")
    send_failed = threading.Event()
    should_stop = run.options.should_stop

    def send(records: list[Record]) -> BatchResult:
        # After a failed send nothing queued behind it goes out: those rows stay pending for next run.
        if send_failed.is_set():
            raise CancelledError("not sent: an earlier batch failed")
        try:
            return run.destination.write_batch(records)
        except BaseException:
            send_failed.set()
            raise

    in_flight: list[tuple[Batch, Future[BatchResult]]] = []
    try:
        with run.warehouse.checkpoints_deferred():
            for window in windows(store.batches(), run.batch_size):
                store.journal(window)
                sending: list[tuple[Batch, Future[BatchResult]]] = []
                for batch in window:
                    # The copied context carries the run's request recorder into the sending thread.
                    sending.append(
                        (batch, sender.submit(contextvars.copy_context().run, send, batch.records))
                    )
                    if should_stop and should_stop():
                        # Graceful stop: what is confirmed is committed; the rest is sent next run
                        # (journaled rows that were not sent stay pending, as after a crash).
                        summary.status = "interrupted"
                        break
                previous, in_flight = in_flight, sending
                _settle(run, store, summary, previous, deferred)
                if summary.status == "interrupted":
                    break
            previous, in_flight = in_flight, []
            _settle(run, store, summary, previous, deferred)
    finally:
        sender.shutdown(wait=True, cancel_futures=True)


def _settle(
    run: Run,
    store: StateStore,
    summary: RunSummary,
    sending: list[tuple[Batch, Future[BatchResult]]],
    deferred: bool,
) -> None:
    """Wait for a window's sends, in order, and commit what came back in one transaction; a send that failed
    is raised after the batches before it are committed."""
    settled: list[tuple[Batch, BatchResult]] = []
    failure: BaseException | None = None
    for batch, future in sending:
        try:
            settled.append((batch, future.result()))
        except BaseException as error:  # noqa: BLE001 - raised below, after the commit
            failure = error
            break
    if settled:
        confirmed, rejected = store.commit(settled, deferred)
        summary.confirmed += confirmed
        summary.rejected += rejected
        for batch, result in settled:
            summary.sent += len(batch.records)
            summary.dropped.update(result.dropped)
            if run.options.progress:
                run.options.progress(len(batch.records))
    if failure is not None:
        raise failure
