"""Opening a ledger file: the connection, the writer's lock, migrations and `atomic()`."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from filelock import FileLock, Timeout

from omnisync.errors import LedgerError, LedgerLockedError
from omnisync.ledger.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

# SQLite limits bound parameters per statement; ask for rows in slices of this many keys.
_CHUNK = 500


def execute_in(
    conn: sqlite3.Connection, sql: str, keys: Sequence[str], *, leading: Sequence[Any] = ()
) -> list[Any]:
    """Run `sql` once per slice of `keys` and return all rows, in slice order.

    `sql` holds `{marks}` where the slice's placeholders go, as in `sku IN ({marks})`; the
    `leading` parameters are bound before each slice's keys.
    """
    rows: list[Any] = []
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        marks = ",".join("?" * len(part))
        rows += conn.execute(sql.format(marks=marks), [*leading, *part]).fetchall()
    return rows


class LedgerBase:
    """An open ledger file: its connection, the writer's lock and the one transaction."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: FileLock | None) -> None:
        self.path = path
        self.conn = conn
        self._lock = lock
        self._depth = 0

    @classmethod
    def open(cls, path: Path, *, write: bool, create: bool | None = None) -> Self:
        """Open (and with `create`, make) the ledger; a writer takes the lock first.

        Raises LedgerLockedError when another process holds the lock, LedgerError when the file
        is missing (and not to be made), corrupt, not a ledger, or from a newer omnisync.
        """
        create = write if create is None else create
        lock = _acquire_lock(path) if write else None
        try:
            conn = _connect(path, create=create)
            ledger = cls(path, conn, lock)
            ledger._migrate(write=write)
        except BaseException:
            if lock is not None:
                _release_lock(path, lock)
            raise
        return ledger

    def close(self) -> None:
        self.conn.close()
        if self._lock is not None:
            _release_lock(self.path, self._lock)
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self, *, write: bool) -> None:
        try:
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: not a readable ledger ({exc})") from None
        if app_id != APPLICATION_ID and (tables or app_id):
            raise LedgerError(
                f"{self.path}: this SQLite file is not an omnisync ledger "
                f"(pass --ledger or set [ledger] path to the right file)"
            )
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: made by a newer omnisync (schema {version}; this one knows up "
                f"to {SCHEMA_VERSION}). Upgrade omnisync to use it"
            )
        if version == SCHEMA_VERSION:
            return
        if not write:
            raise LedgerError(
                f"{self.path}: the ledger needs an upgrade (schema {version} → "
                f"{SCHEMA_VERSION}); run a command that writes, such as `omnisync sync`"
            )
        for number in range(version, SCHEMA_VERSION):
            # Each migration lands together with its version bump, or not at all.
            with self.atomic():
                MIGRATIONS[number](self.conn)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")
                self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    @property
    def in_transaction(self) -> bool:
        """True inside `atomic()`."""
        return self._depth > 0

    @contextmanager
    def atomic(self, *, rollback: bool = False) -> Iterator[None]:
        """One transaction (a savepoint when nested); with `rollback`, always undone."""
        if self._depth:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("ROLLBACK" if rollback else "COMMIT")


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not path.exists():
        if not create:
            raise LedgerError(
                f"{path}: no ledger here yet (run `omnisync init`, or a first `omnisync sync`)"
            )
        try:
            # Owner-only from the first byte: the ledger holds channel tokens.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise LedgerError(f"{path}: cannot create the ledger: {exc.strerror}") from None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # 32 MB of page cache: a run's index lookups and inserts land all over a big ledger.
        conn.execute("PRAGMA cache_size = -32768")
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a readable ledger ({exc})") from None
    return conn


def _lock_info_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock.json")


def _acquire_lock(path: Path) -> FileLock:
    """Take the writer's lock beside the ledger at once, or say who holds it.

    The lock is an OS file lock, so a killed process releases it with its last breath: a
    stale lock file left on disk never blocks the next run.
    """
    if not path.parent.is_dir():
        # Not created on the fly: a mistyped --ledger must not leave folders behind.
        raise LedgerError(f"{path}: the folder {path.parent} does not exist")
    lock = FileLock(str(path) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LedgerLockedError(
            f"{path}: another omnisync run holds the ledger{_holder(path)}"
        ) from None
    try:
        _lock_info_path(path).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
        )
    except OSError:
        pass
    return lock


def _release_lock(path: Path, lock: FileLock) -> None:
    try:
        _lock_info_path(path).unlink(missing_ok=True)
    except OSError:
        pass
    lock.release()


def _holder(path: Path) -> str:
    try:
        info = json.loads(_lock_info_path(path).read_text())
        return f" (pid {info['pid']}, since {info['started_at']}); nothing was done"
    except (OSError, ValueError, KeyError):
        return "; nothing was done"
