"""Opening a ledger file: the connection, the writer's lock, migrations and `atomic()`."""

from __future__ import annotations

import codecs
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
# `PRAGMA quick_check` reads every page: on a ledger up to this size it takes milliseconds.
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


def execute_in(
    conn: sqlite3.Connection,
    sql: str,
    keys: Sequence[str],
    *,
    leading: Sequence[Any] = (),
    trailing: Sequence[Any] = (),
) -> list[Any]:
    """Run `sql` once per slice of `keys` and return all rows, in slice order.

    `sql` holds `{marks}` where the slice's placeholders go, as in `sku IN ({marks})`; the
    `leading` parameters are bound before each slice's keys, the `trailing` ones after.
    """
    rows: list[Any] = []
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        marks = ",".join("?" * len(part))
        rows += conn.execute(sql.format(marks=marks), [*leading, *part, *trailing]).fetchall()
    return rows


# SQLite's primary result codes that mean the file, not the code, is the problem, and what
# the user can do about each; any other error (a constraint, a bad statement) is a bug.
_CAUSES = {
    sqlite3.SQLITE_CORRUPT: "the file is damaged",
    sqlite3.SQLITE_NOTADB: "the file is damaged",
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "the file could not be read or written",
    sqlite3.SQLITE_READONLY: "the file or its folder cannot be written",
    sqlite3.SQLITE_PERM: "the file or its folder cannot be written",
    sqlite3.SQLITE_CANTOPEN: "the file cannot be opened",
    sqlite3.SQLITE_AUTH: "the file cannot be opened",
    sqlite3.SQLITE_NOLFS: "the file could not be read or written",
    sqlite3.SQLITE_PROTOCOL: "the file system offers no locks",
}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_WHAT_TO_DO = {
    "the file is damaged": "restore it from a backup (or try `sqlite3 FILE .recover`)",
    "the disk is full": "free some space, then run again",
    "the file could not be read or written": (
        "check the disk, and whether the file system turned read-only or a file-size limit "
        "(ulimit -f) applies"
    ),
    "the file or its folder cannot be written": (
        "make the file and its folder writable by this user (SQLite writes -wal and -shm "
        "files beside the ledger)"
    ),
    "the file cannot be opened": "check the path and its permissions",
    "the file system offers no locks": "keep the ledger on a local disk, not a network share",
}


def ledger_error(path: Path, exc: sqlite3.Error) -> LedgerError | None:
    """The LedgerError that `exc` means for the ledger at `path`, or None if it is a bug."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        # Errors raised before SQLite ran (no code): a damaged header reads as one of these.
        damaged = type(exc) is sqlite3.DatabaseError
        code = sqlite3.SQLITE_NOTADB if damaged else None
    if code is None:
        return None
    primary = code & 0xFF
    if primary in _BUSY:
        return LedgerLockedError(f"{path}: another process is writing the ledger ({exc})")
    cause = _CAUSES.get(primary)
    if cause is None:
        return None
    return LedgerError(
        f"{path}: the ledger cannot be used: {cause} ({exc}). Nothing of the unfinished step "
        f"was kept. What to do: {_WHAT_TO_DO[cause]}"
    )


def _mapped(conn: sqlite3.Connection, exc: sqlite3.Error) -> BaseException:
    error = ledger_error(getattr(conn, "ledger_path", Path("?")), exc)
    return exc if error is None else error


class _Cursor(sqlite3.Cursor):
    """A cursor whose file errors (damaged, full, read-only) arrive as LedgerError."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise _mapped(self.connection, exc) from exc

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        try:
            return super().executemany(sql, seq_of_parameters)
        except sqlite3.Error as exc:
            raise _mapped(self.connection, exc) from exc

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise _mapped(self.connection, exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise _mapped(self.connection, exc) from exc

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.Error as exc:
            raise _mapped(self.connection, exc) from exc

    # Not `__next__`: a Python frame per row would cost a run over 100,000 rows more than the
    # rest of the wrapping. A page that breaks mid-iteration is caught by the command line
    # (`omnisync.cli`), and `quick_check` finds a damaged page at open on most ledgers.


class _Connection(sqlite3.Connection):
    """The ledger's connection: every statement goes through `_Cursor`, so a damaged page, a
    full disk or a read-only file is a LedgerError (exit 3) wherever it shows up."""

    ledger_path: Path

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)


class _NeedsUpgradeError(LedgerError):
    """A ledger opened to read was made by an older omnisync: it must be migrated first."""


class LedgerBase:
    """An open ledger file: its connection, the writer's lock and the one transaction."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: FileLock | None) -> None:
        self.path = path
        self.conn = conn
        self._lock = lock
        self._depth = 0
        # Every location stock was ever recorded at, read once when first needed and kept up
        # by `StockStore._insert_movements` (a superset after a rollback, which is safe).
        self._places: set[str] | None = None
        # Movement rows held back by `StockStore.movements_together`, inserted as it ends.
        self._held: list[tuple[Any, ...]] | None = None

    @classmethod
    def open(cls, path: Path, *, write: bool, create: bool | None = None) -> Self:
        """Open (and with `create`, make) the ledger; a writer takes the lock first.

        Raises LedgerLockedError when another process holds the lock, LedgerError when the file
        is missing (and not to be made), corrupt, not a ledger, or from a newer omnisync.
        """
        create = write if create is None else create
        if path.is_dir():
            raise LedgerError(
                f"{path}: is a folder, not a ledger file. Set [ledger] path (or --ledger) to a "
                f"file, such as inventory.db"
            )
        lock = _acquire_lock(path) if write else None
        try:
            conn = _connect(path, create=create)
            if write:
                # The writer checkpoints once, as it closes (see `close`): SQLite's automatic
                # checkpoint would otherwise land inside whichever COMMIT crosses 1,000 pages,
                # such as a big run's reconcile, and hold the push back by that long.
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            ledger = cls(path, conn, lock)
            ledger._migrate(write=write)
            ledger._quick_check()
        except _NeedsUpgradeError:
            # A reader met a ledger from an older omnisync (`stock` right after an upgrade):
            # migrate it as a writer would, under the lock, then read. Another run holding
            # the lock is exit 75, as for any writer.
            conn.close()
            cls.open(path, write=True, create=False).close()
            return cls.open(path, write=False, create=create)
        except BaseException:
            if lock is not None:
                _release_lock(path, lock)
            raise
        return ledger

    def close(self) -> None:
        if self._lock is not None:
            self._checkpoint()
        self.conn.close()
        if self._lock is not None:
            _release_lock(self.path, self._lock)
            self._lock = None

    def _checkpoint(self) -> None:
        """Copy the write-ahead log into the ledger file, so that the file alone (a backup, a
        copy to another machine) holds every finished run even while a reader keeps the log."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (sqlite3.Error, LedgerError):
            # Nothing is lost: the log stays beside the ledger and the next writer copies it.
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _quick_check(self) -> None:
        """SQLite's own check of every page, where it is cheap: a damaged page is found when the
        ledger opens, not by whichever query happens to read it (or by none, silently)."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        if size > QUICK_CHECK_MAX_BYTES:
            return
        problems = [row[0] for row in self.conn.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise LedgerError(
                f"{self.path}: the ledger cannot be used: the file is damaged "
                f"({'; '.join(problems)}). What to do: {_WHAT_TO_DO['the file is damaged']}"
            )

    def _migrate(self, *, write: bool) -> None:
        try:
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except (sqlite3.DatabaseError, LedgerError) as exc:
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
            raise _NeedsUpgradeError(
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
                self._undo(f"ROLLBACK TO {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
            self.conn.execute("ROLLBACK" if rollback else "COMMIT")
        except BaseException:
            self._undo("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def _undo(self, statement: str) -> None:
        """Roll back after a failure, without hiding it.

        After a full disk or an I/O error SQLite may have rolled the transaction back itself;
        a second rollback then fails with "no transaction is active", which would replace the
        error that says what happened.
        """
        if not self.conn.in_transaction:
            return
        try:
            self.conn.execute(statement)
        except (sqlite3.Error, LedgerError):
            pass


def _is_empty(path: Path) -> bool:
    """No ledger at `path`: missing, or 0 bytes with no write-ahead log holding its pages."""
    try:
        if path.stat().st_size:
            return False
    except FileNotFoundError:
        return True
    wal = path.with_name(path.name + "-wal")
    return not wal.exists() or wal.stat().st_size == 0


_SQLITE_HEADER = b"SQLite format 3\x00"


def _is_text(path: Path) -> bool:
    """Whether `path` begins as text (a config file given as `--ledger`), not SQLite: a ledger
    with a damaged first page reads as binary and is reported as damaged instead."""
    try:
        with path.open("rb") as file:
            start = file.read(4096)
    except OSError:
        return False  # SQLite says why it cannot open it
    if not start or start.startswith(_SQLITE_HEADER) or b"\x00" in start:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and _is_empty(path):
        # Never made silently: a new ledger forgets every channel's start time and all history,
        # so a moved, lost or truncated one must be noticed, not replaced.
        state = "the ledger is empty (0 bytes)" if path.exists() else "no ledger here yet"
        raise LedgerError(
            f"{path}: {state}. For a new shop, `omnisync init` creates it; otherwise "
            f"pass --ledger (or set [ledger] path) to where it is, or restore it from a backup"
        )
    if not path.exists():
        try:
            # Owner-only from the first byte: the ledger holds channel tokens.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise LedgerError(f"{path}: cannot create the ledger: {exc.strerror}") from None
    if _is_text(path):
        raise LedgerError(
            f"{path}: this file is not an omnisync ledger (it is text, not SQLite): pass "
            f"--ledger or set [ledger] path to the right file"
        )
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, factory=_Connection)
        conn.ledger_path = path
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # 8 MB of page cache (SQLite's default is 2 MB). 32 MB bought nothing measurable: a
        # big run's writes land all over the ledger either way, and the pages it kept cost
        # 25 MB of memory and 10% of the CPU (first-touch page faults) at 50,000 orders.
        conn.execute("PRAGMA cache_size = -8192")
    except LedgerError:
        raise
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
    lock_path = Path(str(path) + ".lock")
    lock = FileLock(str(lock_path), timeout=0)
    try:
        if lock_path.exists() and not os.access(lock_path, os.R_OK | os.W_OK):
            # filelock would wait on it as if it were held: say what is really wrong.
            raise PermissionError(13, "Permission denied")
        lock.acquire()
    except Timeout:
        raise LedgerLockedError(
            f"{path}: another omnisync run holds the ledger{_holder(path)}"
        ) from None
    except OSError as exc:
        raise LedgerError(
            f"{path}: cannot take the lock {lock_path}: {exc.strerror or exc}. What to do: if "
            f"another user's omnisync made it, run as that user, or remove it while no run is "
            f"going; make the folder writable by this user"
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
