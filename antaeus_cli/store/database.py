"""Opening, creating and migrating an antaeus database, and its transactions."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from antaeus_cli.domain.purpose import Purpose
from antaeus_cli.errors import (
    DatabaseBusy,
    DatabaseNotFound,
    NotAnAntaeusDatabase,
    SchemaTooNew,
    SchemaTooOld,
    StorageError,
    UnreadableDatabase,
)
from antaeus_cli.sqlite_files import (
    UNREADABLE,
    FileState,
    connect,
    connect_read_only,
    set_wal,
    translate_errors,
    wal_path,
)
from antaeus_cli.store.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Check,
    application_id,
    migrate,
    user_version,
)

if TYPE_CHECKING:
    import sqlite_utils

    from antaeus_cli.store.imports import ImportWork
    from antaeus_cli.store.outbox_work import NoticeView, NoticeWork
    from antaeus_cli.store.report_view import ReportView
    from antaeus_cli.store.work import View, Work


class Store:
    """An open, migrated antaeus database. Only `antaeus_cli.store` speaks SQL."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only
        self._db: sqlite_utils.Database | None = None
        self._namespace: str | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection, for the reports' queries. Built when
        first asked for: a pass speaks plain SQL, and importing sqlite-utils costs
        about 50 ms of an hourly pass that finds nothing to do."""
        if self._db is None:
            import sqlite_utils  # noqa: PLC0415 - lazily, see above

            self._db = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._db

    @classmethod
    def open(cls, path: Path, *, migrate_schema: bool = False, check: Check | None = None) -> Store:
        """Open an existing database, refusing anything that is not ours, or at another
        schema version than this code's (`migrate_schema`: move an older one forward,
        which only `antaeus migrate` does, after its backup).

        Nothing is written until the file is known to be an antaeus database at the
        right version, so a wrong --db, or an upgrade not yet migrated, leaves the file
        exactly as it was.
        """
        if not path.exists():
            raise _not_found(path)
        if not path.is_file():
            raise _not_a_file(path)
        _require_sqlite()
        conn = connect(path)
        try:
            with translate_errors(path):
                check_identity(conn, path)
                if not migrate_schema:
                    _check_current(conn, path)
            set_wal(conn, path)
            with translate_errors(path):
                migrate(conn, check=check)
                conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @classmethod
    def open_read_only(cls, path: Path, *, immutable: bool) -> Store:
        """Open an existing database for reading only, refusing what `open` refuses;
        nothing is written, not even to move an older schema forward. `read_only`
        is the way in: it says when `immutable` is right, and checks the read."""
        try:
            found = path.stat()
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                raise _not_found(path) from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise UnreadableDatabase(
                    UNREADABLE.format(path=path, text=exc.strerror or exc)
                ) from None
            raise
        if not stat.S_ISREG(found.st_mode):
            raise _not_a_file(path)
        _require_sqlite()
        conn = connect_read_only(path, immutable=immutable)
        try:
            with translate_errors(path, reading=True):
                check_identity(conn, path)
                _check_current(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, read_only=True)

    @classmethod
    def create(cls, path: Path, purpose: Purpose) -> Store:
        """Create a new, empty database at `path` (which must not exist yet), for
        `purpose` (see `antaeus_cli.domain.purpose`)."""
        _require_sqlite()
        conn = connect(path, create=True)
        try:
            set_wal(conn, path)
            with translate_errors(path):
                migrate(conn)
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('namespace', ?), ('purpose', ?)",
                    (secrets.token_hex(4), purpose.value),
                )
                conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @property
    def namespace(self) -> str:
        """Prefix of every idempotency key made from this database."""
        if self._namespace is None:
            with self.reading():
                row = self.conn.execute("SELECT value FROM meta WHERE key = 'namespace'").fetchone()
            if row is None:
                raise NotAnAntaeusDatabase(
                    f"database '{self.path}' has no key namespace: it was not created by "
                    "'antaeus seed'; recreate it with 'antaeus seed --force'"
                )
            self._namespace = str(row[0])
        return self._namespace

    @property
    def purpose(self) -> Purpose:
        """What the database is for: a demo, production, or unknown (made before the
        purpose was recorded)."""
        with self.reading():
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'purpose'").fetchone()
        return Purpose.stored(None if row is None else row[0])

    def bound_account(self) -> str | None:
        """The provider account the database charges through, as recorded by the first
        pass that charged (None: none yet); `ProviderAccount.parse` reads it."""
        with self.reading():
            row = self.conn.execute(
                "SELECT value FROM meta WHERE key = 'provider_account'"
            ).fetchone()
        return None if row is None else str(row[0])

    def bind_account(self, account: str) -> str:
        """Record the provider account unless one is recorded already (a pass racing
        this one may have bound it first); return what is recorded."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('provider_account', ?)",
                (account,),
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'provider_account'").fetchone()
        return str(row[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so
        a busy database waits for the busy timeout instead of failing half-way."""
        with translate_errors(self.path):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def work(self) -> Iterator[Work]:
        """One unit of work: billing's reads and writes in one write transaction,
        committed whole when the block ends, rolled back if it raises."""
        from antaeus_cli.store.work import Work  # noqa: PLC0415 - it imports this module

        with self.transaction() as conn:
            yield Work(conn)

    @contextlib.contextmanager
    def view(self, *, any_text: bool = False) -> Iterator[View]:
        """Reads outside a write transaction (`any_text`: as `reading_any_text`)."""
        from antaeus_cli.store.work import View  # noqa: PLC0415 - it imports this module

        with self._reads(any_text=any_text) as conn:
            yield View(conn)

    @contextlib.contextmanager
    def notices(self) -> Iterator[NoticeWork]:
        """One unit of work of the outbox (`notify`), committed whole."""
        from antaeus_cli.store.outbox_work import NoticeWork  # noqa: PLC0415 - see work()

        with self.transaction() as conn:
            yield NoticeWork(conn)

    @contextlib.contextmanager
    def notice_view(self, *, any_text: bool = False) -> Iterator[NoticeView]:
        """The outbox's reads, outside a write transaction (`any_text`: as
        `reading_any_text`, for display)."""
        from antaeus_cli.store.outbox_work import NoticeView  # noqa: PLC0415 - see work()

        with self._reads(any_text=any_text) as conn:
            yield NoticeView(conn)

    @contextlib.contextmanager
    def report_view(self, *, any_text: bool = False) -> Iterator[ReportView]:
        """The facts `report` and `check` show, all read in one snapshot (`any_text`:
        as `reading_any_text`, for display)."""
        from antaeus_cli.store.report_view import ReportView  # noqa: PLC0415 - see work()

        with self._one_read(any_text=any_text) as conn:
            yield ReportView(conn, lambda: self.db)

    @contextlib.contextmanager
    def imports(self, keep: Callable[[], bool]) -> Iterator[ImportWork]:
        """One import's unit of work, committed only if `keep()` says so at its end
        (see `rolled_back_unless`)."""
        from antaeus_cli.store.imports import ImportWork  # noqa: PLC0415 - see work()

        with self.transaction() as conn, self.rolled_back_unless(keep):
            yield ImportWork(conn)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[View]:
        """Reads that all see the database as it stood at their first read: one read
        transaction, rolled back at the end (it wrote nothing)."""
        from antaeus_cli.store.work import View  # noqa: PLC0415 - it imports this module

        with self._one_read(any_text=False) as conn:
            yield View(conn)

    def _reads(self, *, any_text: bool) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """Reads outside a write transaction, text as `reading_any_text` reads it if asked."""
        return self.reading_any_text() if any_text else self.reading()

    @contextlib.contextmanager
    def _one_read(self, *, any_text: bool) -> Iterator[sqlite3.Connection]:
        """One read transaction, rolled back at its end: every read sees one moment."""
        with self._reads(any_text=any_text) as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def rolled_back_unless(self, keep: Callable[[], bool]) -> Iterator[None]:
        """Inside `transaction()`: at the end of the block, roll everything back unless
        `keep()` says to commit (a dry run, or an all-or-nothing load that found an
        error). The transaction then commits nothing."""
        yield
        if not keep():
            self.conn.execute("ROLLBACK")
            self.conn.execute("BEGIN")  # for transaction() to commit: an empty one

    @contextlib.contextmanager
    def writing_unjournaled(self) -> Iterator[None]:
        """For a file no other process can see yet: write without a journal, then go
        back to WAL and sync the file to disk before anyone is told it exists."""
        with translate_errors(self.path):
            self.conn.execute("PRAGMA journal_mode = OFF")
            self.conn.execute("PRAGMA synchronous = OFF")
        yield
        set_wal(self.conn, self.path)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Reads outside a write transaction, with SQLite's errors translated."""
        with translate_errors(self.path, reading=self.read_only):
            yield self.conn

    @contextlib.contextmanager
    def reading_any_text(self) -> Iterator[sqlite3.Connection]:
        """Reads for display: text a hand edit stored as bytes that are not UTF-8 is read
        with U+FFFD in their place, instead of failing the whole read. Passes never use
        this: what they read is checked, and a row that fails is held."""
        self.conn.text_factory = lenient_text
        try:
            with self.reading() as conn:
                yield conn
        finally:
            self.conn.text_factory = str

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()


T = TypeVar("T")

READ_TRIES = 3


def read_write(path: Path, work: Callable[[Store], T]) -> T:
    """`work(store)` against the database opened for writing, closed afterwards."""
    store = Store.open(path)
    try:
        return work(store)
    finally:
        store.close()


def read_only(path: Path, read: Callable[[Store], T]) -> T:
    """`read(store)` against the database opened for reading only (`report`, `check`,
    a dry run): nothing is written and no file is made, so the user running it needs
    no write permission on the file, its -wal and -shm files or its directory.

    While a process has the database open, SQLite keeps a -wal file beside it, and
    reads through it and its -shm file. With no -wal file (no process has it open, as
    between passes), or an empty one, the file holds everything committed, and is read
    as it stands, as an immutable file: no lock, no -wal or -shm file made. A pass
    that began meanwhile and copied its pages into the file (a checkpoint) would have
    torn that read, so the read counts only if the file is as it was after it; if it
    is not, or a failure came as a pass opened or closed the database, the read is
    done again, up to READ_TRIES times.
    """
    for _ in range(READ_TRIES):
        before = FileState.of(path)
        immutable = before is not None and _holds_everything(path)
        try:
            store = Store.open_read_only(path, immutable=immutable)
            try:
                result = read(store)
            finally:
                store.close()
        # A read torn by a pass that rewrote the file meanwhile may fail in any way, not
        # only in SQLite: rows it could never hold (a NULL sum) fail where they are read.
        # Such a failure counts only if the file did not move; otherwise, read again.
        except Exception:  # re-raised unless the file moved under the read
            if before is None or not _moved(path, before, immutable=immutable):
                raise
            continue
        if not immutable or FileState.of(path) == before:
            return result
    raise DatabaseBusy(
        f"database '{path}' changed while it was read, {READ_TRIES} times in a row (passes "
        "began or ended meanwhile); run again"
    )


def _holds_everything(path: Path) -> bool:
    """Whether the database file holds every committed change: its -wal file is missing
    or empty. (One with frames in it may hold only pages a checkpoint has copied into
    the file already, but telling so takes its -shm file.)"""
    try:
        return wal_path(path).stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _moved(path: Path, before: FileState, *, immutable: bool) -> bool:
    """Whether a read that failed may have failed because a pass opened the database,
    wrote to it or closed it meanwhile."""
    if immutable:
        return FileState.of(path) != before
    return _holds_everything(path)  # its -wal file went while SQLite reached for it


# What `Path.exists` takes for "not there"; any other failure is not an answer.
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _not_found(path: Path) -> DatabaseNotFound:
    return DatabaseNotFound(
        f"database '{path}' not found: pass --db (or set ANTAEUS_DB) to point at an "
        "existing one, or create it: 'antaeus init' for production, 'antaeus seed' for "
        "a demo"
    )


def _not_a_file(path: Path) -> NotAnAntaeusDatabase:
    return NotAnAntaeusDatabase(f"'{path}' is not a file: pass --db with a database file")


def lenient_text(raw: bytes) -> str:
    """Stored text as str, with U+FFFD for bytes that are not UTF-8."""
    return raw.decode("utf-8", "replace")


def check_identity(conn: sqlite3.Connection, path: Path) -> None:
    version = user_version(conn)
    app_id = application_id(conn)
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"database '{path}' has schema version {version}, newer than the {SCHEMA_VERSION} "
                "this antaeus understands: upgrade antaeus; the file was not changed"
            )
        return
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    if app_id == 0 and version == 0 and not tables:
        raise NotAnAntaeusDatabase(
            f"'{path}' is an empty file, not an antaeus database: remove it and run "
            f"'antaeus --db {path} init' for production, or 'antaeus --db {path} seed --force' "
            "for a demo"
        )
    raise NotAnAntaeusDatabase(
        f"'{path}' is a SQLite database but not an antaeus one: pass --db with the right file"
    )


def _check_current(conn: sqlite3.Connection, path: Path) -> None:
    version = user_version(conn)
    if version < SCHEMA_VERSION:
        raise SchemaTooOld(
            f"database '{path}' has schema version {version}; this antaeus writes version "
            f"{SCHEMA_VERSION}: run 'antaeus --db {path} migrate', which backs the file up "
            "first; the file was not changed"
        )


MIN_SQLITE = (3, 38, 0)  # JSON functions built in: answers are recorded through json_each


def _require_sqlite() -> None:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StorageError(
            f"this Python's SQLite is {sqlite3.sqlite_version}; antaeus needs "
            f"{'.'.join(map(str, MIN_SQLITE))} or newer: use a newer Python build"
        )
