"""Dagster's SQLite event log with its connections kept open (the local instance, dagster.yaml).

Dagster's own ``SqliteEventLogStorage`` opens a new SQLite connection for every write and closes
it after: an asset check result is written to the run's database and twice to the index
database, each time connect, insert, commit, close (and the last close of a WAL database
checkpoints it). A Banten month records ~1,000 events (~250 of them check results), and that
cycle was a third of the post-ingest wall time. This subclass keeps one engine (one pooled
connection) per database file for the few files in use, so a write is an insert and a commit,
and commits without waiting for an fsync (WAL with ``synchronous=NORMAL``).
Files, tables and what is stored are Dagster's own; the UI and the daemon read them as before.
A write now lands in the run file's write-ahead log (``<run>.db-wal``), and the main file changes
only at a checkpoint, so the UI's live view of a run, which Dagster wakes on changes to
``<run>.db``, is also woken by changes to its WAL (:meth:`PooledSqliteEventLogStorage.watch`).

Production uses Postgres storage (docs/deploy.md) and does not load this class.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool
from watchdog.observers import Observer

# Engines kept open: the index database and the databases of the runs being written or read.
MAX_OPEN_SHARDS = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` (one SQLite file per run plus an index) with pooled connections.

    ``base_dir`` defaults to ``$DAGSTER_HOME/history/runs``, where Dagster's default keeps it. The
    class config carries no folder, so a process that opens an instance from another folder than
    ``$DAGSTER_HOME`` (``InstanceRef.from_dir``) must set ``base_dir`` or ``DAGSTER_HOME`` to that
    folder: Dagster's own processes (UI, daemon, run workers, CLI) all run with ``DAGSTER_HOME``.
    """

    def __init__(self, base_dir: str | None = None, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_seen: set[str] = set()
        super().__init__(base_dir or default_base_dir(), inst_data)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=2,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _wal_normal_sync)
        self._engines[shard] = engine  # most recently used last
        while len(self._engines) > MAX_OPEN_SHARDS:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index database has ``table_name``, remembered once it does.

        Dagster asks before storing every asset check event (``supports_asset_checks``), and its
        answer builds a new engine, connects and reflects the schema each time: ~250 checks, two
        events each (a forced Banten run with nothing new: 11.0-12.5 s asking each time, 9.8-10.5 s
        remembering). A table Dagster created stays until :meth:`wipe`; one not there yet is asked
        again (a migration may add it)."""
        if table_name in self._tables_seen:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_seen.add(table_name)
        return present

    def watch(self, run_id: str, cursor: str | None, callback) -> None:
        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _RunLogWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))

    def wipe(self) -> None:
        # Dagster deletes the run files: close them first, or writes would go to deleted files.
        with self._db_lock:
            for shard in [s for s in self._engines if s != INDEX_SHARD_NAME]:
                self._engines.pop(shard).dispose()
        self._tables_seen.clear()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()


class _RunLogWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watcher of one run's events, woken by a change to the run's file or to its WAL."""

    def __init__(self, storage, run_id: str, callback, cursor: str | None):
        super().__init__(storage, run_id, callback, cursor)
        self._patterns = [self._log_path, self._log_path + "-wal"]

    def on_modified(self, event) -> None:
        self._process_log()


def _wal_normal_sync(dbapi_con, _record) -> None:
    # Dagster keeps these files in WAL mode, where synchronous=NORMAL is SQLite's recommended
    # setting: a commit no longer waits for an fsync, the file stays consistent after a crash or
    # power loss, and only the last events before a power loss can be lost (never the warehouse's
    # data, which is in DuckDB).
    dbapi_con.execute("pragma synchronous=NORMAL")


def default_base_dir() -> str:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("PooledSqliteEventLogStorage needs base_dir or DAGSTER_HOME")
    return os.path.join(home, "history", "runs")
