"""Reading the database for `report`, `check` and the dry runs: no write, no file made,
and a read that a pass could have torn is done again."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from antaeus_cli.errors import DatabaseBusy, SchemaTooNew
from antaeus_cli.store import schema
from antaeus_cli.store.database import Store, read_only

LONG_AGO_NS = 1_000_000_000 * 1_700_000_000  # 2023-11-14: the file was last written then


@pytest.fixture
def db(make: Callable[..., Path]) -> Path:
    path = make((1, 1000, "EUR"), (2, 2000, "EUR"))
    # Last written long ago, as between hourly passes: a write now changes the time.
    os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))
    return path


@pytest.fixture
def writer(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection that writes as a pass does: WAL, autocommit."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    yield conn
    conn.close()


def names(store: Store) -> list[str]:
    rows = store.conn.execute("SELECT key FROM meta ORDER BY key").fetchall()
    return [str(row[0]) for row in rows]


def listing(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_a_read_between_passes_writes_nothing_and_makes_no_file(db: Path) -> None:
    before, folder_before = listing(db.parent), db.parent.stat().st_mtime_ns
    assert "namespace" in read_only(db, names)
    assert listing(db.parent) == before
    assert db.parent.stat().st_mtime_ns == folder_before  # nothing made and removed


def test_a_read_while_a_pass_holds_the_database_sees_what_it_committed(
    db: Path, writer: sqlite3.Connection
) -> None:
    writer.execute("INSERT INTO meta (key, value) VALUES ('committed', 'in the WAL only')")
    assert "committed" in read_only(db, names)


def test_a_pass_that_writes_into_the_file_while_it_is_read_makes_the_read_run_again(
    db: Path,
) -> None:
    seen: list[list[str]] = []

    def read(store: Store) -> list[str]:
        seen.append(names(store))
        if len(seen) == 1:  # a pass opens the database, commits, and closes meanwhile
            conn = sqlite3.connect(db, isolation_level=None)
            conn.execute("INSERT INTO meta (key, value) VALUES ('meanwhile', 'x')")
            conn.close()  # the last connection: its pages are copied into the file
        return seen[-1]

    assert "meanwhile" in read_only(db, read)
    assert len(seen) == 2
    assert "meanwhile" not in seen[0]


def test_a_read_torn_by_a_rewrite_of_the_file_is_done_again_not_called_damaged(
    make: Callable[..., Path],
) -> None:
    db = make(*[(i, 1000, "EUR") for i in range(1, 400)])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM invoice WHERE id % 2 = 0")  # free pages for VACUUM to move
    conn.close()
    tries: list[int] = []

    def read(store: Store) -> tuple[int, int]:
        with store.reading() as conn:
            conn.execute("SELECT count(*) FROM meta").fetchone()  # the schema, as it was
            if not tries:  # rewritten page by page meanwhile, by another connection
                other = sqlite3.connect(db, isolation_level=None)
                other.execute("VACUUM")
                other.close()
            tries.append(1)
            (count, total) = conn.execute("SELECT count(*), sum(amount) FROM invoice").fetchone()
            return int(count), int(total)

    assert read_only(db, read) == (200, 200_000)
    assert len(tries) == 2


def test_a_read_that_fails_on_a_file_changed_under_it_is_done_again_whatever_the_error(
    db: Path,
) -> None:
    tries: list[int] = []

    def read(store: Store) -> int:
        store.conn.execute("SELECT count(*) FROM meta").fetchone()  # the schema, as it was
        if not tries:  # a table made meanwhile, by another connection
            other = sqlite3.connect(db, isolation_level=None)
            other.execute("CREATE TABLE made_meanwhile (x)")
            other.close()
        tries.append(1)
        return int(store.conn.execute("SELECT count(*) FROM made_meanwhile").fetchone()[0])

    assert read_only(db, read) == 0
    assert len(tries) == 2


def test_a_file_that_changes_under_every_read_is_said_to_be_busy(db: Path) -> None:
    def read(store: Store) -> list[str]:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("INSERT INTO meta (key, value) VALUES (hex(randomblob(8)), 'x')")
        conn.close()
        return names(store)

    with pytest.raises(DatabaseBusy, match="changed while it was read"):
        read_only(db, read)


def test_a_read_only_connection_refuses_a_write(db: Path) -> None:
    def write(store: Store) -> None:
        store.conn.execute("INSERT INTO meta (key, value) VALUES ('written', 'x')")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        read_only(db, write)
    assert "written" not in read_only(db, names)


def test_a_newer_schema_is_refused_as_the_passes_refuse_it(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew):
        read_only(db, names)


@pytest.mark.parametrize("link_in", ["same folder", "other folder"])
def test_a_read_through_a_symbolic_link_sees_what_a_pass_holding_the_file_committed(
    db: Path, writer: sqlite3.Connection, tmp_path: Path, link_in: str
) -> None:
    # SQLite keeps the -wal file beside the file the link names, not beside the link
    folder = tmp_path if link_in == "same folder" else tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    link = folder / "through-a-link.db"
    link.symlink_to(db)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # what it commits stays in the -wal
    writer.execute("INSERT INTO meta (key, value) VALUES ('committed', 'in the WAL only')")
    assert "committed" in read_only(link, names)
