"""The embedded profile store: one SQLite file in WAL mode.

WAL lets any number of readers go on while the sync writes: a reader sees the last committed state, and each
batch is one transaction, so it sees a profile whole, before or after. A lookup by identifier is one statement
joining the identifier to its profile, so it reads one consistent state too. Commits are synchronous=FULL: the
sync engine records a row as delivered once the batch returns, so a committed batch must survive a power cut."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from reverse_etl.profiles.store import Profile, ProfileStore, ProfileStoreError

SCHEMA = [
    "create table if not exists profiles (customer_id text primary key, document text not null) without rowid",
    """create table if not exists identifiers (identifier_type text not null, identifier_value text not null,
        customer_id text not null, primary key (identifier_type, identifier_value)) without rowid""",
    "create index if not exists identifiers_by_customer on identifiers (customer_id)",
]


class SqliteProfileStore(ProfileStore):
    def __init__(self, path: Path | str, create: bool = True) -> None:
        self.path = Path(path)
        self.description = f"sqlite:{self.path}"
        if not create and not self.path.is_file():
            raise ProfileStoreError(f"no profile store at {self.path}; run the profile_store sync first")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = self._connection()
            connection.execute("pragma journal_mode=wal")
            with connection:
                for statement in SCHEMA:
                    connection.execute(statement)

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread (a SQLite connection is not shared between threads)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
                connection.execute("pragma synchronous=full")
                # A reader waiting on a checkpoint or a schema lock should wait, not fail.
                connection.execute("pragma busy_timeout=30000")
            except sqlite3.Error as error:
                raise ProfileStoreError(f"cannot open the profile store {self.path}: {error}") from error
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def apply(self, upserts: Sequence[Profile], deletes: Sequence[str]) -> None:
        connection = self._connection()
        try:
            connection.execute("begin immediate")
            try:
                gone = [(profile.customer_id,) for profile in upserts] + [(key,) for key in deletes]
                connection.executemany("delete from identifiers where customer_id = ?", gone)
                connection.executemany("delete from profiles where customer_id = ?", [(k,) for k in deletes])
                connection.executemany(
                    "insert or replace into profiles (customer_id, document) values (?, ?)",
                    [(profile.customer_id, profile.document()) for profile in upserts],
                )
                # An identifier that moved from another customer is taken over (insert or replace): the
                # identity graph gives each identifier one customer.
                connection.executemany(
                    "insert or replace into identifiers (identifier_type, identifier_value, customer_id) "
                    "values (?, ?, ?)",
                    [
                        (kind, value, profile.customer_id)
                        for profile in upserts
                        for kind, value in profile.identifier_pairs()
                    ],
                )
                connection.execute("commit")
            except BaseException:
                connection.execute("rollback")
                raise
        except sqlite3.Error as error:
            raise ProfileStoreError(f"profile store {self.path}: {error}") from error

    def _one(self, statement: str, params: tuple[str, ...]) -> Profile | None:
        try:
            row = self._connection().execute(statement, params).fetchone()
        except sqlite3.Error as error:
            raise ProfileStoreError(f"profile store {self.path}: {error}") from error
        return Profile.from_document(row[0]) if row else None

    def get(self, customer_id: str) -> Profile | None:
        return self._one("select document from profiles where customer_id = ?", (customer_id,))

    def lookup(self, identifier_type: str, value: str) -> Profile | None:
        return self._one(
            "select profile.document from identifiers as identifier join profiles as profile "
            "on profile.customer_id = identifier.customer_id "
            "where identifier.identifier_type = ? and identifier.identifier_value = ?",
            (identifier_type, value),
        )

    def count(self) -> int:
        return int(self._connection().execute("select count(*) from profiles").fetchone()[0])

    def identifier_count(self) -> int:
        return int(self._connection().execute("select count(*) from identifiers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
