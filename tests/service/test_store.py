"""Opening, refusing, migrating and constraining the database file."""

from __future__ import annotations

import re
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from antaeus_cli.billing.results import RunStatus
from antaeus_cli.domain.invoice import AttemptOutcome, FailureCode, InvoiceStatus
from antaeus_cli.errors import DatabaseNotFound, NotAnAntaeusDatabase, SchemaTooNew
from antaeus_cli.store import schema
from antaeus_cli.store.database import Store


def test_a_missing_database_is_not_created(db_path: Path) -> None:
    with pytest.raises(DatabaseNotFound, match="antaeus seed"):
        Store.open(db_path)
    assert not db_path.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"this is not a database, just text\n" * 100, "not a SQLite database"),
        (b"", "empty file"),
    ],
)
def test_files_that_are_not_ours_are_left_byte_for_byte(
    db_path: Path, content: bytes, fragment: str
) -> None:
    db_path.write_bytes(content)
    with pytest.raises(NotAnAntaeusDatabase, match=fragment):
        Store.open(db_path)
    assert db_path.read_bytes() == content
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


def test_another_applications_sqlite_file_is_refused_untouched(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(NotAnAntaeusDatabase, match="not an antaeus one"):
        Store.open(db_path)
    assert db_path.read_bytes() == before


def test_a_newer_schema_is_refused_untouched(make: Callable[..., Path], db_path: Path) -> None:
    make((1, 1000, "EUR"))
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(SchemaTooNew, match="upgrade antaeus"):
        Store.open(db_path)
    assert db_path.read_bytes() == before


def test_a_new_database_is_private_wal_and_enforces_foreign_keys(
    make: Callable[..., Path], db_path: Path
) -> None:
    make((1, 1000, "EUR"))
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    store = Store.open(db_path)
    try:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert schema.user_version(store.conn) == schema.SCHEMA_VERSION
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), store.transaction() as c:
            c.execute(
                "INSERT INTO invoice (customer_id, amount, currency, due_date, created_at, "
                "updated_at) VALUES (999, 1, 'EUR', '2026-12-01', 't', 't')"
            )
    finally:
        store.close()


def test_migrations_run_forward_once_each_in_a_transaction(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    steps = ("CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT;")
    assert schema.migrate(conn, steps[:1]) == [1]
    assert schema.migrate(conn, steps) == [2]
    assert schema.migrate(conn, steps) == []
    assert schema.user_version(conn) == 2
    broken = (*steps, "CREATE TABLE b (z INTEGER); CREATE TABLE a (again INTEGER);")
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn, broken)
    assert schema.user_version(conn) == 2  # the failed step left nothing behind
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'b'").fetchone()[0] == 0


def _check_set(sql: str, column: str) -> set[str]:
    match = re.search(rf"{column}\s+IN\s*\(([^)]*)\)", sql)
    assert match, column
    return set(re.findall(r"'([^']+)'", match.group(1)))


def test_the_schema_checks_match_the_domain_enums() -> None:
    ddl = schema.MIGRATIONS[0]
    invoice = ddl[ddl.index("CREATE TABLE invoice") :]
    attempt = ddl[ddl.index("CREATE TABLE payment_attempt") :]
    run = ddl[ddl.index("CREATE TABLE billing_run") :]
    assert _check_set(invoice, "status") == {s.value for s in InvoiceStatus}
    assert _check_set(invoice, "failure_code") == {c.value for c in FailureCode}
    assert _check_set(attempt, "outcome") == {o.value for o in AttemptOutcome}
    assert _check_set(run, "status") == {s.value for s in RunStatus}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoice SET status = 'LOST' WHERE id = 1",
        "UPDATE invoice SET amount = 10.5 WHERE id = 1",
        "UPDATE invoice SET due_date = '2026-02-30' WHERE id = 1",
        "UPDATE invoice SET status = 'FAILED' WHERE id = 1",
        "UPDATE invoice SET status = 'PAID' WHERE id = 1",
    ],
)
def test_constraints_refuse_impossible_invoices(
    make: Callable[..., Path], db_path: Path, statement: str
) -> None:
    make((1, 1000, "EUR"))
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(statement)
    conn.close()
