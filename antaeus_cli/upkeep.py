"""Backups and schema upgrades: `antaeus backup` and `antaeus migrate`.

A backup is SQLite's online backup of the live file: a consistent copy however busy
the database is, readable by its owner only, checked page by page before it is given
its name, and never written over an existing file. `migrate` takes such a backup first,
then moves the schema forward, one migration per transaction; no other command
migrates, so an upgrade never changes a file before an operator asked for it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from antaeus_cli.domain.edits import shown
from antaeus_cli.errors import (
    DatabaseExists,
    InputError,
    LockHeld,
    MigrationRefused,
    StorageError,
)
from antaeus_cli.sqlite_files import connect, side_file, translate_errors
from antaeus_cli.store import runs
from antaeus_cli.store.database import Store, check_identity, lenient_text
from antaeus_cli.store.schema import SCHEMA_VERSION, user_version


@dataclass(frozen=True, slots=True)
class BackupResult:
    source: Path
    backup: Path
    schema_version: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class MigrateResult:
    db_path: Path
    from_version: int
    to_version: int
    backup: BackupResult | None  # None: already current, nothing to do


def backup(db_path: Path, target: Path) -> BackupResult:
    """Copy the database at `db_path` to `target`, which must not exist yet."""
    if os.path.lexists(target):
        raise DatabaseExists(f"'{target}' already exists: a backup never replaces a file")
    if os.path.realpath(target) in {
        os.path.realpath(side_file(db_path, side)) for side in ("-wal", "-shm", "-journal")
    }:
        raise InputError(
            f"'{target}' is named as one of the database's own files, which SQLite would "
            "take for its journal and discard: name the backup otherwise"
        )
    if not target.parent.is_dir():
        raise InputError(f"directory '{target.parent}' does not exist: create it first")
    source = _open_source(db_path)
    staged = target.with_name(f".{target.name}.backup-{os.getpid()}")
    _remove(staged)
    try:
        version = user_version(source)
        _create_private(staged)
        copy = sqlite3.connect(staged, isolation_level=None)
        try:
            with translate_errors(db_path):
                source.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
        _verify(staged, version)
        _fsync(staged)
        try:
            os.link(staged, target)
        except FileExistsError:
            raise DatabaseExists(
                f"'{target}' was created while the backup ran: a backup never replaces a file"
            ) from None
        _fsync(target.parent)
    finally:
        source.close()
        _remove(staged)
    return BackupResult(db_path, target, version, target.stat().st_size)


def migrate(
    db_path: Path, backup_to: Path | None, *, now: datetime, is_alive: runs.Liveness
) -> MigrateResult:
    """Back the database up (to `backup_to`, else beside it), then bring its schema up
    to this code's version. A database already current is left alone."""
    conn = _open_source(db_path)
    try:
        version = user_version(conn)
        if version < SCHEMA_VERSION:
            _refuse_if_a_pass_runs(conn, db_path, now, is_alive)
            _refuse_if_open_twice(conn, db_path, version)
    finally:
        conn.close()
    if version == SCHEMA_VERSION:
        return MigrateResult(db_path, version, version, None)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    target = backup_to or db_path.with_name(f"{db_path.name}.v{version}-{stamp}.backup")
    saved = backup(db_path, target)

    def still_allowed(conn: sqlite3.Connection, current: int) -> None:
        # again under the write lock: a pass may have begun, or an attempt been opened,
        # while the backup was made
        _refuse_if_a_pass_runs(conn, db_path, now, is_alive)
        _refuse_if_open_twice(conn, db_path, current)

    try:
        Store.open(db_path, migrate_schema=True, check=still_allowed).close()
    except BaseException:
        if _version_of(db_path) == version:  # nothing moved: the backup is this run's alone
            saved.backup.unlink(missing_ok=True)
        raise
    return MigrateResult(db_path, version, SCHEMA_VERSION, saved)


def _version_of(db_path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return user_version(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _open_source(db_path: Path) -> sqlite3.Connection:
    """The database, for reading: ours, at any version this code knows."""
    if not db_path.is_file():
        raise InputError(f"database '{db_path}' not found: pass --db with an existing file")
    conn = connect(db_path)
    try:
        with translate_errors(db_path):
            check_identity(conn, db_path)
    except BaseException:
        conn.close()
        raise
    return conn


def _refuse_if_a_pass_runs(
    conn: sqlite3.Connection, db_path: Path, now: datetime, is_alive: runs.Liveness
) -> None:
    try:
        holder = runs.lock_holder(conn)
    except sqlite3.Error:  # a schema older than the lock's columns: nothing of ours runs
        return
    if holder is not None and holder.alive(now, is_alive):
        raise LockHeld(f"a billing pass is using '{db_path}' ({holder}): migrate when it ends")


# Version 16 allows one open attempt an invoice (payment_attempt_one_open).
ONE_OPEN_FROM = 16
_OPEN_TWICE = (  # an open attempt has no finished_at, in every version
    "SELECT invoice_id, count(*), group_concat(id, ', ') FROM payment_attempt "
    "WHERE finished_at IS NULL GROUP BY invoice_id HAVING count(*) > 1 ORDER BY invoice_id"
)
LISTED = 5  # invoices, and attempts of each, a refusal names


def _refuse_if_open_twice(conn: sqlite3.Connection, db_path: Path, version: int) -> None:
    """Before the backup, and again under the migration's write lock: a database in
    which some invoice has two open attempts (written by hand) cannot take version 16's
    constraint; the operator settles all but one."""
    if version >= ONE_OPEN_FROM:
        return
    factory, conn.text_factory = conn.text_factory, lenient_text  # hand-written ids
    try:
        with translate_errors(db_path):
            found = conn.execute(_OPEN_TWICE).fetchall()
    finally:
        conn.text_factory = factory
    if not found:
        return
    invoices = "; ".join(
        f"invoice {shown(repr(invoice_id))} has {count} open attempts (ids {_first(ids)})"
        for invoice_id, count, ids in found[:LISTED]
    )
    if len(found) > LISTED:
        invoices += f"; and {len(found) - LISTED} more invoices"
    raise MigrationRefused(
        f"{invoices}: schema version {ONE_OPEN_FROM} allows one open attempt an invoice. "
        "Look each key up at the provider and settle all but one by hand (docs/design.md, "
        "Overdue attempts), then run migrate again; nothing was changed"
    )


def _first(ids: str) -> str:
    """The first LISTED of a comma-separated list, and how many in all past them."""
    each = ids.split(", ")
    return ids if len(each) <= LISTED else f"{', '.join(each[:LISTED])}, ... {len(each)} in all"


def _verify(path: Path, version: int) -> None:
    """The copy is a whole, sound antaeus database at the source's version."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        copied = user_version(conn)
    finally:
        conn.close()
    if problems != ["ok"] or copied != version:
        raise StorageError(
            f"the backup did not verify ({'; '.join(map(str, problems[:3]))}, schema "
            f"{copied} against {version}); it was removed, and the database is unchanged"
        )


def _create_private(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for candidate in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
