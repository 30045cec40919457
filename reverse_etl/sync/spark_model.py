"""A sync whose model lives in Spark. Plain Spark tables have no transactions, so the run's state (snapshots,
journal, commits, runs, rejects, forget queue) stays in a transactional state store (a DuckDB file or
PostgreSQL, reverse_etl.spark.state_store_target) and goes through the StateStore of that store, unchanged;
what runs in Spark is the diff's heavy work: reading the model, hashing its rows and comparing them with the
sync's snapshot.

Spark compares with a copy of the sync's snapshot rows (cdp_sync.snapshot__<sync> in Spark), trusted only
when it is provably current: before each diff, under the sync's lock (nothing else writes the sync's rows),
the copy in Spark and the rows in the store are checksummed alike (row count, and the sum of a 60-bit number
read from the md5 of each row's encoding: the same text, hash and sum on every engine); when the checksums
differ or the copy is missing, the copy is written again from the store. So the diff Spark computes is the
one the store would compute. The rows to act on (with the model's values for the rows to send) are copied
into the store, where the run protocol journals, sends and commits them as on DuckDB. At the end of a run the
copy takes the store's rows of the keys the run touched (the next run checks it all the same). See
docs/syncs.md, "Syncs from a Spark model"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.project import Target
from reverse_etl.spark import SparkStatements
from reverse_etl.sync import state
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.warehouse import Warehouse, quote

# The snapshot columns the diff reads, copied to Spark (with sync_name), and checksummed in the store.
COPIED_COLUMNS = ["record_key", "confirmed_hash", "status", "attempts", "destination_id"]
COPY_SCHEMA = "sync_name string, record_key string, confirmed_hash string, status string, attempts int, destination_id string"
# A row's number in the checksum: its encoding's md5, first 15 hex digits (60 bits), read the same on every
# engine; summed without overflow (DuckDB: hugeint, PostgreSQL: numeric, Spark: decimal(38, 0)).
ROW_NUMBER = {
    "duckdb": "cast(('0x' || substr(md5({row}), 1, 15)) as bigint)",
    "postgres": "('x' || substr(md5({row}), 1, 15))::bit(60)::bigint",
    "spark": "cast(conv(substr(md5({row}), 1, 15), 16, 10) as decimal(38, 0))",
}
CHANGE_TYPES = {
    "change_type": "varchar",
    "record_key": "varchar",
    "row_hash": "varchar",
    "copies": "bigint",
    "destination_id": "varchar",
    "confirmed_hash": "varchar",
    "previous_status": "varchar",
    "attempts": "integer",
}
# Spark types the store keeps as they are; any other column is sent as its JSON text.
STORE_TYPES = {
    "string": "varchar",
    "tinyint": "bigint",
    "smallint": "bigint",
    "int": "bigint",
    "bigint": "bigint",
    "float": "double",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
}
# Keys whose text is the same in Spark and in the store (the batches find a row's values by its key's text).
KEY_TYPES = ("string", "tinyint", "smallint", "int", "bigint")
PAGE_ROWS = 50_000


def spark_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SparkModel(SparkStatements):
    """The Spark side of one sync's runs: its model, its snapshot copy and its diff."""

    def __init__(self, target: Target, sync: SyncConfig) -> None:
        if sync.query:
            raise ConfigError(
                f"{sync.source_file}: exposures.{sync.name}: ad-hoc queries do not run on the spark target; "
                "declare the rows as a dbt model"
            )
        from reverse_etl.spark import spark_session

        self.target = target
        self.session = spark_session()
        self.sync = sync
        self.model = f"{spark_quote(sync.relation.schema)}.{spark_quote(sync.relation.name)}"
        self.copy = self._spark_table("snapshot__")
        self.changes = self._spark_table("changes__")

    def _spark_table(self, prefix: str) -> str:
        return f"{state.SCHEMA}.{spark_quote(prefix + self.sync.name)}"

    @property
    def rows_table(self) -> str:
        """The store's copy of the model's rows to send this run (dropped when the run ends)."""
        return f"{state.SCHEMA}.{quote('model__' + self.sync.name)}"

    @property
    def suppressed_table(self) -> Relation:
        return Relation(None, state.SCHEMA, "suppressed__" + self.sync.name)

    @property
    def store_sync(self) -> SyncConfig:
        """The sync as the store sees it: its forget requests read the store's copy of the suppression list."""
        if self.sync.forget_from is None:
            return self.sync
        return replace(self.sync, forget_from=self.suppressed_table)

    def _pages(self, statement: str, params: list[Any] | None = None) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a Spark query a page at a time (a partition at a time to the driver)."""
        try:
            rows = (tuple(row) for row in self._sql(statement, params).toLocalIterator())
            while page := list(islice(rows, PAGE_ROWS)):
                yield page
        except WarehouseError:
            raise
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error

    def _schema(self) -> dict[str, str]:
        """Column name -> Spark type of the model; empty when the model is not built."""
        try:
            if not self.session.catalog.tableExists(f"{self.sync.relation.schema}.{self.sync.relation.name}"):
                return {}
            table = self.session.table(self.model)
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error
        return {column.name: column.dataType.simpleString() for column in table.schema.fields}

    def columns(self) -> list[str]:
        """The model's columns (none when it is not built). Its key must read the same as text in Spark and
        in the store."""
        schema = self._schema()
        key_type = schema.get(self.sync.primary_key)
        if key_type is not None and key_type not in KEY_TYPES:
            raise ConfigError(
                f"{self.sync.source_file}: exposures.{self.sync.name}.meta.cdp_sync.primary_key: "
                f"{self.sync.primary_key} is {key_type} in Spark; a sync from Spark needs a text or whole-number key"
            )
        return list(schema)

    def copy_suppressed(self, store: Warehouse) -> None:
        """The suppression list (customer ids), copied into the store for the forget pass, in one transaction."""
        if self.sync.forget_from is None:
            return
        source = f"{spark_quote(self.sync.forget_from.schema)}.{spark_quote(self.sync.forget_from.name)}"
        table = f"{state.SCHEMA}.{quote(self.suppressed_table.name)}"
        with store.transaction():
            store.execute(f"drop table if exists {table}")
            store.execute(f"create table {table} (customer_id varchar)")
            for page in self._pages(f"select distinct cast(customer_id as string) from {source}"):
                store.execute(
                    f"insert into {table} select ids.customer_id from {store.rows_subquery(['customer_id'])} as ids",
                    [[row[0] for row in page]],
                )

    def diff(self, store: Warehouse, fields: dict[str, str]) -> state.Diff:
        """The diff, computed in Spark against a verified copy of the snapshot; its rows copied into the store."""
        columns = state.hashed_columns(fields)
        schema = self._schema()
        current = state.fingerprint(self.sync, fields, {column: schema.get(column, "") for column in columns})
        self._sql(f"create schema if not exists {state.SCHEMA}")
        self._verify_copy(store)
        self._sql(f"drop table if exists {self.changes}")
        self._sql(
            f"create table {self.changes} using parquet as "
            + state.changes_sql(
                self.model,
                self.copy,
                spark_quote(self.sync.primary_key),
                state.row_encoding_sql(columns, spark_quote, "string"),
                "string",
            ),
            [state.fingerprint_prefix(current), self.sync.name],
        )
        self._copy_changes(store)
        self._copy_rows(store, schema, sorted({self.sync.primary_key, *fields.values()}))
        return state.diff_counts(store, self.sync, current)

    def store_checksum(self, store: Warehouse) -> str:
        """The checksum of the sync's snapshot rows in the store."""
        row = ROW_NUMBER[store.kind].format(row=state.row_encoding_sql(COPIED_COLUMNS))
        count, total = store.query(
            f"select count(*), coalesce(sum({row}), 0) from {state.SCHEMA}.snapshots where sync_name = ?",
            (self.sync.name,),
        )[0]
        return f"{count}:{total}"

    def copy_checksum(self) -> str | None:
        """The same checksum of Spark's copy (None when there is no copy)."""
        if not self._copy_exists():
            return None
        row = ROW_NUMBER["spark"].format(row=state.row_encoding_sql(COPIED_COLUMNS, spark_quote, "string"))
        count, total = self._rows(
            f"select count(*), coalesce(sum({row}), 0) from {self.copy} where sync_name = ?", [self.sync.name]
        )[0]
        return f"{count}:{total}"

    def _verify_copy(self, store: Warehouse) -> None:
        """Make the Spark copy of the sync's snapshot rows equal the store's: kept when the checksums agree,
        else written again from the store."""
        if self.copy_checksum() == self.store_checksum(store):
            return
        self._sql(f"drop table if exists {self.copy}")
        self._sql(f"create table {self.copy} ({COPY_SCHEMA}) using parquet")
        for page in store.stream(
            f"select {', '.join(['sync_name', *COPIED_COLUMNS])} from {state.SCHEMA}.snapshots where sync_name = ?",
            (self.sync.name,),
            PAGE_ROWS,
        ):
            self._insert(self.copy, page)

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        try:
            self.session.createDataFrame(rows, COPY_SCHEMA).write.insertInto(table)
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error

    def refresh_copy(self, store: Warehouse, run_id: str) -> None:
        """After a run: the copy takes the store's rows of the keys the run touched (the rows it acted on, and
        those the forget pass moved), so the next run finds it current without copying every row. The copy
        is rewritten beside the old one and swapped in; a refresh cut off leaves no copy or a stale one, and
        the next run's check copies it again."""
        touched = f"select record_key from {state.changes_table(self.sync)} where record_key is not null"
        params: list[Any] = []
        if self.sync.forget_from is not None:
            touched += (
                f" union select record_key from {state.SCHEMA}.forget_queue where sync_name = ?"
                f" union select record_key from {state.SCHEMA}.forgotten where sync_name = ? and run_id = ?"
            )
            params += [self.sync.name, self.sync.name, run_id]
        keys = [row[0] for row in store.query(touched, params)]
        if not keys or not self._copy_exists():
            return
        rows = store.query(
            f"select {', '.join(['sync_name', *COPIED_COLUMNS])} from {state.SCHEMA}.snapshots "
            f"where sync_name = ? and record_key in ({touched})",
            [self.sync.name, *params],
        )
        following = self._spark_table("snapshot_next__")
        self._sql(f"drop table if exists {following}")
        self._sql(f"create table {following} ({COPY_SCHEMA}) using parquet")
        try:
            self.session.createDataFrame(
                [(key,) for key in keys], "record_key string"
            ).createOrReplaceTempView("cdp_touched_keys")
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error
        self._sql(
            f"insert into {following} select kept.* from {self.copy} as kept "
            "left anti join cdp_touched_keys as touched on touched.record_key = kept.record_key"
        )
        if rows:
            self._insert(following, rows)
        self._sql(f"drop table {self.copy}")
        self._sql(f"alter table {following} rename to {self.copy}")

    def _copy_exists(self) -> bool:
        try:
            return bool(self.session.catalog.tableExists(f"{state.SCHEMA}.snapshot__{self.sync.name}"))
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error

    def _write_pages(
        self, store: Warehouse, table: str, types: dict[str, str], pages: Iterator[list]
    ) -> None:
        """Create `table` in the store with these columns and types and fill it from pages of text values (one
        bound array per column, cast back to each type), in one transaction."""
        postgres = store.kind == "postgres"
        renamed = {"varchar": "text", "double": "double precision"} if postgres else {}
        declared = {name: renamed.get(kind, kind) for name, kind in types.items()}
        names = list(types)
        writing = (
            f"insert into {table} select "
            + ", ".join(f"cast(page.{quote(name)} as {kind})" for name, kind in declared.items())
            + f" from {store.rows_subquery(names)} as page"
        )
        with store.transaction():
            store.execute(f"drop table if exists {table}")
            store.execute(
                f"create table {table} ({', '.join(f'{quote(n)} {k}' for n, k in declared.items())})"
            )
            for page in pages:
                store.execute(writing, [list(values) for values in zip(*page, strict=True)])

    def _copy_changes(self, store: Warehouse) -> None:
        """The changes table into the store: every row but the unchanged ones, which come as one row (their
        count), as the store's own diff would keep them."""
        names = ", ".join(f"cast({name} as string)" for name in CHANGE_TYPES)
        unchanged = ", ".join(
            "cast(sum(copies) as string)"
            if name == "copies"
            else "'unchanged'"
            if name == "change_type"
            else "'0'"
            if name == "attempts"
            else "null"
            for name in CHANGE_TYPES
        )
        self._write_pages(
            store,
            state.changes_table(self.sync),
            CHANGE_TYPES,
            self._pages(
                f"select {names} from {self.changes} where change_type <> 'unchanged' union all "
                f"select {unchanged} from {self.changes} where change_type = 'unchanged' having count(*) > 0"
            ),
        )

    def _copy_rows(self, store: Warehouse, schema: dict[str, str], columns: list[str]) -> None:
        """The model's values of the rows to send (added or changed) into the store's rows table."""
        types = {column: self._store_type(schema[column]) for column in columns}
        values = ", ".join(
            f"cast(model.{spark_quote(column)} as string)"
            if schema[column] in STORE_TYPES or schema[column].startswith("decimal")
            else f"to_json(model.{spark_quote(column)})"
            for column in columns
        )
        self._write_pages(
            store,
            self.rows_table,
            types,
            self._pages(
                f"select {values} from {self.changes} as change join {self.model} as model "
                f"on cast(model.{spark_quote(self.sync.primary_key)} as string) = change.record_key "
                "where change.change_type in ('added', 'changed')"
            ),
        )

    @staticmethod
    def _store_type(spark_type: str) -> str:
        if spark_type.startswith("decimal"):
            return spark_type
        return STORE_TYPES.get(spark_type, "varchar")

    def close(self, store: Warehouse) -> None:
        """The rows table holds copies of model rows: it does not outlive the run."""
        store.execute(f"drop table if exists {self.rows_table}")
        store.commit()
