"""Opening SQLite files safely, and naming what went wrong when SQLite fails.

Shared by our store and by the simulated provider's own ledger file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from antaeus_cli.domain.purpose import Purpose
from antaeus_cli.errors import (
    AntaeusError,
    DatabaseBusy,
    DatabaseDamaged,
    DiskFull,
    NotAnAntaeusDatabase,
    ReadOnlyDatabase,
    StorageError,
    UnreadableDatabase,
)

BUSY_TIMEOUT_S = 5.0


def connect(
    path: Path, *, create: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> sqlite3.Connection:
    """Open `path` without ever creating it by accident.

    Transactions are explicit (`isolation_level=None`): every write goes through
    BEGIN IMMEDIATE ... COMMIT, so nothing commits half-way by surprise.
    """
    if create:
        _create_private_file(path)
    uri = f"file:{_uri_path(path)}?mode=rw"
    with translate_errors(path):
        return sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
        )


def connect_read_only(
    path: Path, *, immutable: bool, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> sqlite3.Connection:
    """Open `path` for reading only (`mode=ro`), as a user who may write neither the file
    nor its directory, and refuse every write on the connection (`query_only`).

    `immutable`: read the file as it stands, with no lock and no WAL, which makes no
    -wal or -shm file. Right only while no process has the database open (there is no
    -wal file), and only if the caller checks that the file did not change while it
    read (`FileState`). Otherwise SQLite reads through the -wal and -shm files a writer
    made, and needs no write to either (since 3.22: a -shm it cannot write is read into
    memory).
    """
    uri = f"file:{_uri_path(path)}?mode=ro{'&immutable=1' if immutable else ''}"
    with translate_errors(path, reading=True):
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
    return conn


def _uri_path(path: Path) -> str:
    # The path as the file system spells it: under a C locale a non-ASCII name is
    # held with surrogate escapes, which no text encoding can write.
    return quote(os.fsencode(path.absolute()))


def side_file(path: Path, side: str) -> Path:
    """The file SQLite keeps beside the database at `path` (`side`: -wal, -shm or
    -journal): beside the file itself, since SQLite follows symbolic links to name it,
    never beside a link that names the file."""
    real = Path(os.path.realpath(path))
    return real.with_name(f"{real.name}{side}")


def wal_path(path: Path) -> Path:
    """The -wal file SQLite keeps beside `path` while a connection has it open."""
    return side_file(path, "-wal")


@dataclass(frozen=True, slots=True)
class FileState:
    """What a database file looked like: a read of it as immutable holds only if the
    file still looks the same afterwards. A checkpoint that copies a pass's pages into
    the file while it is read changes its modification time (and maybe its size); a
    file replaced under its name has another inode."""

    inode: int
    size: int
    modified_ns: int
    changed_ns: int

    @classmethod
    def of(cls, path: Path) -> FileState | None:
        """The file's state now (None: it is gone or cannot be looked at)."""
        try:
            found = path.stat()
        except OSError:
            return None
        return cls(found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _create_private_file(path: Path) -> None:
    """Create an empty file readable by its owner only (0600): it holds customer data."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"cannot create '{path}': {exc.strerror}") from None
    os.close(fd)


def set_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL with synchronous=NORMAL; see docs/design.md for why this is safe here."""
    with translate_errors(path):
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.execute("PRAGMA temp_store=MEMORY")
    if str(mode).lower() != "wal":
        raise StorageError(
            f"cannot switch '{path}' to WAL mode (got {mode}): is the file on a network share?"
        )


@contextlib.contextmanager
def translate_errors(path: Path, *, reading: bool = False) -> Iterator[None]:
    """Turn SQLite's failures into errors with a message and a next step (`reading`:
    on a connection opened for reading only)."""
    try:
        yield
    except sqlite3.Error as exc:
        translated = describe(exc, path, reading=reading)
        if translated is None:
            raise
        raise translated from exc


def describe(exc: sqlite3.Error, path: Path, *, reading: bool = False) -> AntaeusError | None:
    """The expected error behind a SQLite failure, or None when it is a bug. `reading`:
    the connection was opened for reading only, so a failure to open, or to use the
    -wal and -shm files, is a permission the reading user lacks."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    for prefixes, fragment, kind, template in (*_UNREADABLE, *_KNOWN) if reading else _KNOWN:
        if name.startswith(prefixes) or (fragment and fragment in text):
            return kind(template.format(path=path, text=text, timeout=BUSY_TIMEOUT_S))
    return None


UNREADABLE = (
    "cannot read database '{path}' ({text}): the user running this needs read permission "
    "on it and on its -wal and -shm files, and search permission on its directory; "
    "nothing was changed"
)

_UNREADABLE: tuple[tuple[tuple[str, ...], str, type[AntaeusError], str], ...] = (
    (
        # SQLITE_READONLY_DIRECTORY, _CANTINIT, _RECOVERY...: the -wal or -shm file is
        # missing and cannot be made, or cannot be used. A plain SQLITE_READONLY is a
        # write tried on a connection that only reads: not the reader's permissions.
        ("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY_"),
        "",
        UnreadableDatabase,
        UNREADABLE,
    ),
)

# (error-name prefixes, message fragment, error, message), most specific first.
_KNOWN: tuple[tuple[tuple[str, ...], str, type[AntaeusError], str], ...] = (
    (
        ("SQLITE_BUSY", "SQLITE_LOCKED"),
        "database is locked",
        DatabaseBusy,
        "database '{path}' is busy: another process held a write transaction for more than "
        "{timeout:g}s; try again when it has finished",
    ),
    (
        ("SQLITE_READONLY",),
        "readonly database",
        ReadOnlyDatabase,
        "database '{path}' is read-only: make it, its -wal and -shm files and its directory "
        "writable by this user; nothing was changed",
    ),
    (
        ("SQLITE_FULL",),
        "database or disk is full",
        DiskFull,
        "no space left while writing '{path}': free disk space (or raise the file-size limit) "
        "and run again; committed work is safe and the next run reconciles the rest",
    ),
    (
        ("SQLITE_NOTADB",),
        "file is not a database",
        NotAnAntaeusDatabase,
        "'{path}' is not a SQLite database: pass --db with the right file, or run "
        "'antaeus seed' to create one",
    ),
    (
        ("SQLITE_CORRUPT",),
        "database disk image is malformed",
        DatabaseDamaged,
        "database '{path}' is damaged ({text}): restore it from a backup; "
        "'sqlite3 FILE .recover' may salvage rows",
    ),
    (
        ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM"),
        "",
        StorageError,
        "cannot read or write '{path}' ({text}): check free space, file-size limits "
        "(ulimit -f) and the permissions of the file and its directory",
    ),
)


def stored_purpose(path: Path) -> Purpose | None:
    """What the database file at `path` says it is for, read without writing anything;
    None if it is not a database, not ours, or records no purpose."""
    uri = f"file:{quote(os.fsencode(path.absolute()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'purpose'").fetchone()
    except sqlite3.Error:  # not a database, or not ours
        return None
    finally:
        conn.close()
    return None if row is None else Purpose.stored(row[0])


LOCK_TRIES = 3


@contextlib.contextmanager
def writers_held_off(path: Path) -> Iterator[bool]:
    """While the block runs, no other process writes to the SQLite database at `path`:
    this one holds its write lock (BEGIN IMMEDIATE, rolled back at the end). A file that
    another process is writing to is refused with DatabaseBusy; one that is no database
    needs no lock (yields False). The lock is on the file at `path` once it is held: a
    file put in its place meanwhile (another seed's) is locked in turn."""
    for _ in range(LOCK_TRIES):
        before = _identity(path)
        with _write_locked(path) as held:
            if _identity(path) == before:
                yield held
                return
    raise DatabaseBusy(f"'{path}' was replaced {LOCK_TRIES} times while it was locked: run again")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


@contextlib.contextmanager
def _write_locked(path: Path) -> Iterator[bool]:
    try:
        conn = sqlite3.connect(
            f"file:{_uri_path(path)}?mode=rw", uri=True, isolation_level=None,
            timeout=BUSY_TIMEOUT_S,
        )  # fmt: skip
    except sqlite3.Error:
        conn = None
    held = False
    try:
        if conn is not None:
            try:
                conn.execute("BEGIN IMMEDIATE")
                held = True
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise DatabaseBusy(
                        f"another process is writing to '{path}': wait for it to finish, "
                        "then run this again"
                    ) from None
            except sqlite3.DatabaseError:  # not a database: nothing of ours writes to it
                pass
        yield held
    finally:
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                if held:
                    conn.execute("ROLLBACK")
            conn.close()
