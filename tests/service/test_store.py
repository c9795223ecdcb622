"""Opening, refusing, migrating and constraining the database file."""

from __future__ import annotations

import re
import sqlite3
import stat
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from antaeus_cli.billing.results import RunStatus
from antaeus_cli.domain.invoice import AttemptOutcome, FailureCode, InvoiceStatus
from antaeus_cli.errors import DatabaseNotFound, NotAnAntaeusDatabase, SchemaTooNew
from antaeus_cli.store import queries, schema
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


def _allowed(table_sql: str, column: str) -> set[str]:
    """The values a CHECK allows for `column`, written as `column = '...'` chains."""
    return set(re.findall(rf"\b{column}\s*=\s*'([^']+)'", table_sql))


def test_the_schema_checks_match_the_domain_enums(make: Callable[..., Path], db_path: Path) -> None:
    make((1, 1000, "EUR"))
    conn = sqlite3.connect(db_path)
    tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    conn.close()
    assert _allowed(tables["invoice"], "status") == {s.value for s in InvoiceStatus}
    assert _allowed(tables["invoice"], "failure_code") == {c.value for c in FailureCode}
    assert _allowed(tables["payment_attempt"], "outcome") == {o.value for o in AttemptOutcome}
    assert _allowed(tables["billing_run"], "status") == {s.value for s in RunStatus}
    assert " IN (" not in tables["invoice"] + tables["payment_attempt"]  # see migrations/v2.py


def test_a_version_1_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    from antaeus_cli.billing.engine import PassSettings, StopRequest
    from antaeus_cli.billing.results import Command, SilentObserver
    from antaeus_cli.billing.service import PassRequest, Runtime
    from tests.conftest import ME, bounded_pass
    from tests.fakes import FakeProvider, FixedClock, dead

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, schema.MIGRATIONS[:1]) == [1]
    conn.execute("INSERT INTO meta VALUES ('namespace', 'feedf00d')")
    conn.execute("INSERT INTO customer VALUES (1, 'EUR'), (2, 'EUR')")
    conn.execute(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
        "updated_at) VALUES (1, 1, 700, 'EUR', '2026-12-01', 't', 't'), "
        "(2, 2, 900, 'EUR', '2026-12-01', 't', 't')"
    )
    conn.close()
    store = Store.open(path, migrate_schema=True)
    try:
        assert schema.user_version(store.conn) == schema.SCHEMA_VERSION == 16
        assert store.conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        result = bounded_pass(
            store,
            FakeProvider(),
            PassRequest(Command.BILL, PassSettings(as_of=date(2026, 12, 1))),
            Runtime(FixedClock(), StopRequest(), SilentObserver(), ME, dead),
        )
        assert result.counts.paid == 2
        names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
        assert {
            "invoice_pending",
            "invoice_failed",
            "payment_attempt_one_open",
            "payment_attempt_settled_is_final",
            "payment_attempt_no_delete",
        } <= names
        assert "invoice_by_status" not in names
        assert "payment_attempt_open" not in names
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute("DELETE FROM payment_attempt")
    finally:
        store.close()


def _version_2_file(path: Path) -> sqlite3.Connection:
    """A new file migrated only as far as schema version 2, open for writing rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, schema.MIGRATIONS[:2]) == [1, 2]
    conn.execute("INSERT INTO meta VALUES ('namespace', 'feedf00d')")
    return conn


def test_a_version_2_database_gets_its_totals_from_its_rows(tmp_path: Path) -> None:
    """Version 3 adds the tables the report reads totals from; a file billed under
    version 2 must come out with totals equal to a full count of its rows."""
    path = tmp_path / "v2.db"
    conn = _version_2_file(path)
    conn.execute("INSERT INTO customer VALUES (1, 'EUR'), (2, 'USD')")
    conn.execute(
        "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, paid_at, "
        "created_at, updated_at) VALUES "
        "(1, 1, 700, 'EUR', 'PAID', '2026-12-01', 't', 't', 't'), "
        "(2, 1, 900, 'EUR', 'PENDING', '2026-12-01', NULL, 't', 't'), "
        "(3, 2, 300, 'USD', 'PAID', '2026-12-01', 't', 't', 't')"
    )
    conn.execute(
        "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at, "
        "finished_at, status) VALUES (1, 'bill', '2026-12-01', 'sim://', 'h', 1, 't', 't', "
        "'completed')"
    )
    conn.execute(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, outcome, provider_calls, started_at, "
        "finished_at) VALUES "
        "(1, 1, 1, 'k1', 1, 'bill', 700, 'EUR', 'PENDING', 'charged', 1, 't', 't'), "
        "(3, 2, 1, 'k3', 1, 'bill', 300, 'USD', 'PENDING', 'charged', 1, 't', 't')"
    )
    conn.close()
    store = Store.open(path, migrate_schema=True)
    try:
        assert schema.user_version(store.conn) == schema.SCHEMA_VERSION
        fast = queries.totals_by_status_and_currency(store.conn)
        assert fast == queries._exact_totals(store.conn)
        assert ("PAID", "EUR", 1, 700) in [tuple(row[:4]) for row in fast]
        assert queries.collected_by_currency(store.conn) == [("EUR", 1, 700), ("USD", 1, 300)]
    finally:
        store.close()


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


def test_a_version_2_database_whose_amounts_pass_64_bits_still_opens(tmp_path: Path) -> None:
    """Hostile rows can hold amounts near the 64-bit limit. Their sum must not stop the
    migration: the running total becomes inexact, and the report counts exactly."""
    path = tmp_path / "v2-huge.db"
    conn = _version_2_file(path)
    conn.execute("INSERT INTO customer VALUES (1, 'EUR')")
    huge = 2**62
    conn.execute(
        "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
        "created_at, updated_at) VALUES "
        "(1, 1, ?, 'EUR', 'PENDING', '2026-12-01', 't', 't'), "
        "(2, 1, ?, 'EUR', 'PENDING', '2026-12-01', 't', 't'), "
        "(3, 1, 5, 'GBP', 'PENDING', '2026-12-01', 't', 't')",
        (huge, huge),
    )
    conn.close()
    store = Store.open(path, migrate_schema=True)
    try:
        assert schema.user_version(store.conn) == schema.SCHEMA_VERSION
        totals = queries.totals_by_status_and_currency(store.conn)
        assert [tuple(row[:4]) for row in totals] == [
            ("PENDING", "EUR", 2, 2 * huge),
            ("PENDING", "GBP", 1, 5),
        ]
    finally:
        store.close()


def _version_11_file(path: Path) -> None:
    """A file at schema version 11, as the release before the timestamp defaults left
    it: rows in every status a test needs, an open charge, a settled one, a notice."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, schema.MIGRATIONS[:11]) == list(range(1, 12))
    stamp = "2026-11-28T09:00:00.250000+00:00"
    conn.execute("INSERT INTO meta VALUES ('namespace', 'feedf00d'), ('purpose', 'production')")
    conn.execute(
        "INSERT INTO customer (id, currency, provider_ref, email, timezone, external_id) VALUES "
        "(1, 'EUR', 'cus_1', 'a@example.com', 'Europe/Berlin', 'crm-1'), "
        "(2, 'USD', NULL, NULL, NULL, NULL)"
    )
    conn.execute(
        "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
        "decline_count, first_declined_on, next_retry_on, failure_code, failure_detail, "
        "created_at, updated_at, paid_at, external_id) VALUES "
        "(1, 1, 700, 'EUR', 'PAID', '2026-11-01', 0, NULL, NULL, NULL, NULL, ?1, ?1, ?1, "
        "'inv-1'), "
        "(2, 1, 900, 'EUR', 'PENDING', '2026-12-01', 0, NULL, NULL, NULL, NULL, ?1, ?1, NULL, "
        "NULL), "
        "(3, 2, 300, 'USD', 'FAILED', '2026-11-01', 1, '2026-11-01', '2026-11-04', 'declined', "
        "'insufficient funds', ?1, ?1, NULL, NULL), "
        "(4, 2, 500, 'USD', 'NEEDS_OPERATOR', '2026-12-01', 0, NULL, NULL, 'malformed', "
        "'no provider_ref', '2026-11-28T09:00:00+00:00', 't', NULL, 'inv-4')",
        (stamp,),
    )
    conn.execute(
        "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at, "
        "finished_at, status) VALUES (1, 'bill', '2026-11-01', 'stripe://', 'h', 1, ?1, ?1, "
        "'completed'), (2, 'bill', '2026-12-01', 'stripe://', 'h', 1, ?1, ?1, 'crashed')",
        (stamp,),
    )
    conn.execute(
        "INSERT INTO payment_attempt (id, invoice_id, customer_id, customer_ref, attempt_no, "
        "idempotency_key, run_id, command, amount, currency, from_status, outcome, "
        "provider_calls, started_at, finished_at, period) VALUES "
        "(1, 1, 1, 'cus_1', 1, 'feedf00d-inv-1-1', 1, 'bill', 700, 'EUR', 'PENDING', 'charged', "
        "1, ?1, ?1, '2026-11'), "
        "(2, 2, 1, 'cus_1', 1, 'feedf00d-inv-2-1', 2, 'bill', 900, 'EUR', 'PENDING', 'started', "
        "1, ?1, NULL, '2026-12')",
        (stamp,),
    )
    conn.execute("INSERT INTO collected VALUES ('EUR', 1, 700)")
    conn.execute(
        "INSERT INTO notification (dedupe_key, kind, run_id, attempt_id, recipient, "
        "next_attempt_at, created_at) VALUES ('feedf00d-inv-1-1/receipt', 'receipt', 1, 1, "
        "'a@example.com', ?1, ?1)",
        (stamp,),
    )
    conn.close()


_SCHEMA_OBJECTS = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order (names from the file itself)."""
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {name: conn.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall() for name in names}


def _without_defaults(create: str) -> str:
    """A CREATE TABLE statement with its timestamp defaults taken out, spaces evened."""
    return " ".join(re.sub(r" DEFAULT \(strftime\('[^']*', 'now'\)\)", "", create).split())


def _migrated_to(path: Path, version: int) -> Store:
    """The file moved forward to `version` exactly, as `antaeus migrate` moves it (one
    transaction a version, foreign keys enforced afterwards), open as a store."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    schema.migrate(conn, schema.MIGRATIONS[:version])
    return Store(conn, path)


def test_a_version_11_database_keeps_every_row_constraint_and_trigger_at_version_12(
    tmp_path: Path,
) -> None:
    """Version 12 rebuilds `invoice` for its timestamp defaults, as `antaeus migrate`
    runs it: every row of every table is kept, every other object of the schema is
    as it was, the table differs by its two defaults only, and its rules still hold."""
    path = tmp_path / "v11.db"
    _version_11_file(path)
    with closing(sqlite3.connect(path)) as conn:
        rows_before = _rows(conn)
        objects_before = conn.execute(_SCHEMA_OBJECTS).fetchall()
        columns_before = conn.execute("PRAGMA table_xinfo(invoice)").fetchall()
        keys_before = conn.execute("PRAGMA foreign_key_list(invoice)").fetchall()
    assert {table for table, rows in rows_before.items() if rows} >= {
        "meta", "customer", "invoice", "billing_run", "payment_attempt", "invoice_total",
        "collected", "notification",
    }  # fmt: skip

    store = _migrated_to(path, 12)
    try:
        conn = store.conn
        assert schema.user_version(conn) == 12
        assert _rows(conn) == rows_before
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA foreign_key_list(invoice)").fetchall() == keys_before

        objects = conn.execute(_SCHEMA_OBJECTS).fetchall()
        table = ("table", "invoice", "invoice")
        assert [o for o in objects if o[:3] != table] == [
            o for o in objects_before if o[:3] != table
        ]  # every index and trigger, of invoice and of every other table, as it was
        (create,) = [o[3] for o in objects if o[:3] == table]
        (create_before,) = [o[3] for o in objects_before if o[:3] == table]
        assert _without_defaults(create) == " ".join(create_before.split())  # every CHECK
        columns = conn.execute("PRAGMA table_xinfo(invoice)").fetchall()
        assert [c[:4] + c[5:] for c in columns] == [c[:4] + c[5:] for c in columns_before]
        assert {c[1] for c in columns if c[4] != columns_before[c[0]][4]} == {
            "created_at",
            "updated_at",
        }

        # The rules hold: CHECKs, the foreign key, the unique upstream id, the triggers.
        for statement in (
            "UPDATE invoice SET status = 'LOST' WHERE id = 2",
            "UPDATE invoice SET amount = 10.5 WHERE id = 3",
            "UPDATE invoice SET due_date = '2026-02-30' WHERE id = 3",
            "UPDATE invoice SET status = 'FAILED', failure_code = 'declined' WHERE id = 4",
            "UPDATE invoice SET status = 'PAID' WHERE id = 4",
            "UPDATE invoice SET external_id = '' WHERE id = 3",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"), store.transaction() as c:
                c.execute(statement)
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), store.transaction() as c:
            c.execute(
                "INSERT INTO invoice (customer_id, amount, currency, due_date) "
                "VALUES (999, 1, 'EUR', '2026-12-01')"
            )
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), store.transaction() as c:
            c.execute("UPDATE invoice SET external_id = 'inv-1' WHERE id = 3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.transaction() as c:
            c.execute("DELETE FROM payment_attempt WHERE id = 1")
        with store.transaction() as c:  # its charge is in flight: held for an operator
            c.execute("UPDATE invoice SET amount = 950 WHERE id = 2")
            c.execute(
                "INSERT INTO invoice (customer_id, amount, currency, due_date) "
                "VALUES (2, 40, 'USD', '2026-12-01')"
            )
        assert conn.execute("SELECT status, failure_code FROM invoice WHERE id = 2").fetchone() == (
            "NEEDS_OPERATOR",
            "edited_in_flight",
        )
        assert conn.execute("SELECT * FROM invoice_total ORDER BY 1").fetchall() == [
            ("EUR", 2, 1650, 1),
            ("USD", 3, 840, 1),
        ]
    finally:
        store.close()


def _version_12_file(path: Path) -> None:
    """A file at schema version 12, as the release before VOID left it: the version 11
    file moved forward, with an invoice in every status version 12 knows."""
    _version_11_file(path)
    _migrated_to(path, 12).close()
    stamp = "2026-11-29T10:00:00.500000+00:00"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(
            "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
            "decline_count, failure_code, failure_detail, updated_at) VALUES "
            "(5, 1, 800, 'EUR', 'UNCOLLECTIBLE', '2026-10-01', 4, 'dunning_exhausted', "
            "'declined 4 times', ?1), "
            "(6, 1, 600, 'EUR', 'AWAITING_CUSTOMER', '2026-09-01', 1, 'hard_decline', "
            "'lost card', ?1), "
            "(7, 2, 200, 'USD', 'PROCESSING', '2026-12-01', 0, NULL, NULL, ?1)",
            (stamp,),
        )


def test_a_version_12_database_keeps_every_row_constraint_and_trigger_at_versions_13_and_14(
    tmp_path: Path,
) -> None:
    """Version 13 rebuilds `invoice` for the VOID status, as `antaeus migrate` runs it:
    every row of every table is kept, every other object of the schema is as it was,
    the table differs by one more status only, the objects it adds (with version 14's
    trigger) are the index of VOID invoices and the append-only record of voidings, and
    every rule still holds."""
    path = tmp_path / "v12.db"
    _version_12_file(path)
    with closing(sqlite3.connect(path)) as conn:
        rows_before = _rows(conn)
        objects_before = conn.execute(_SCHEMA_OBJECTS).fetchall()
        columns_before = conn.execute("PRAGMA table_xinfo(invoice)").fetchall()
        keys_before = conn.execute("PRAGMA foreign_key_list(invoice)").fetchall()
    assert {status for (_, _, _, _, status, *_) in rows_before["invoice"]} == {
        s.value for s in InvoiceStatus if s is not InvoiceStatus.VOID
    }

    store = _migrated_to(path, 14)
    try:
        conn = store.conn
        assert schema.user_version(conn) == 14
        assert _rows(conn) == {**rows_before, "voiding": []}
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA foreign_key_list(invoice)").fetchall() == keys_before
        assert conn.execute("PRAGMA table_xinfo(invoice)").fetchall() == columns_before

        objects = conn.execute(_SCHEMA_OBJECTS).fetchall()
        table = ("table", "invoice", "invoice")
        added = {(kind, name) for kind, name, *_ in objects} - {
            (kind, name) for kind, name, *_ in objects_before
        }
        assert added == {
            ("index", "invoice_void"),
            ("table", "voiding"),
            ("index", "voiding_by_invoice"),
            ("trigger", "voiding_no_delete"),
            ("trigger", "voiding_is_final"),
            ("trigger", "payment_attempt_settled_by_hand_is_receipted"),  # version 14
        }
        kept = [o for o in objects if o[:3] != table and (o[0], o[1]) not in added]
        assert kept == [o for o in objects_before if o[:3] != table]
        (create,) = [o[3] for o in objects if o[:3] == table]
        (create_before,) = [o[3] for o in objects_before if o[:3] == table]
        assert "OR status = 'VOID'" in create  # every CHECK as it was, and one status more
        assert " ".join(create.split()).replace(" OR status = 'VOID'", "") == " ".join(
            create_before.split()
        )

        # The rules hold: CHECKs, the foreign key, the unique upstream id, the triggers.
        for statement in (
            "UPDATE invoice SET status = 'LOST' WHERE id = 2",
            "UPDATE invoice SET amount = 10.5 WHERE id = 3",
            "UPDATE invoice SET status = 'FAILED', failure_code = 'declined' WHERE id = 4",
            "UPDATE invoice SET status = 'PAID' WHERE id = 4",
            "UPDATE invoice SET status = 'VOID' WHERE id = 3",  # a retry date is FAILED's
            "UPDATE invoice SET external_id = '' WHERE id = 3",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"), store.transaction() as c:
                c.execute(statement)
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), store.transaction() as c:
            c.execute(
                "INSERT INTO invoice (customer_id, amount, currency, due_date) "
                "VALUES (999, 1, 'EUR', '2026-12-01')"
            )
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), store.transaction() as c:
            c.execute("UPDATE invoice SET external_id = 'inv-1' WHERE id = 3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.transaction() as c:
            c.execute("DELETE FROM payment_attempt WHERE id = 1")
        with store.transaction() as c:  # its charge is in flight: held for an operator
            c.execute("UPDATE invoice SET amount = 950 WHERE id = 2")
        assert conn.execute("SELECT status, failure_code FROM invoice WHERE id = 2").fetchone() == (
            "NEEDS_OPERATOR",
            "edited_in_flight",
        )

        # VOID is a status now, recorded in `voiding`, which never changes.
        with store.transaction() as c:
            c.execute(
                "INSERT INTO voiding (invoice_id, from_status, failure_code, failure_detail, "
                "reason, voided_at, voided_by, host, pid) VALUES (4, 'NEEDS_OPERATOR', "
                "'malformed', 'no provider_ref', 'billed twice upstream', "
                "'2026-11-30T08:00:00+00:00', 'ops', 'h', 1)"
            )
            c.execute(
                "UPDATE invoice SET status = 'VOID', failure_code = NULL, failure_detail = NULL "
                "WHERE id = 4"
            )
        for statement, why in (
            ("UPDATE voiding SET reason = 'other' WHERE invoice_id = 4", "append-only"),
            ("DELETE FROM voiding", "append-only"),
            ("UPDATE invoice SET id = 40 WHERE id = 4", "FOREIGN KEY"),
            (
                "INSERT INTO voiding (invoice_id, from_status, reason, voided_at, voided_by, "
                "host, pid) VALUES (3, 'FAILED', '', '2026-11-30T08:00:00+00:00', 'o', 'h', 1)",
                "CHECK",
            ),
            (
                "INSERT INTO voiding (invoice_id, from_status, reason, voided_at, voided_by, "
                "host, pid) VALUES (3, 'PAID', 'x', '2026-11-30T08:00:00+00:00', 'o', 'h', 1)",
                "CHECK",
            ),
        ):
            with pytest.raises(sqlite3.IntegrityError, match=why), store.transaction() as c:
                c.execute(statement)
        fast = queries.totals_by_status_and_currency(conn)
        assert fast == queries._exact_totals(conn)
        assert ("VOID", "USD", 1, 500) in [tuple(row[:4]) for row in fast]
    finally:
        store.close()


def test_a_version_14_database_gives_every_customer_the_company_s_locale_at_version_15(
    tmp_path: Path,
) -> None:
    """Version 15 adds `customer.locale`, as `antaeus migrate` runs it: every customer
    is kept with NULL for it (the company's locale), every other row and object of the
    schema is as it was, and the column holds NULL or what can be a BCP 47 tag only."""
    path = tmp_path / "v14.db"
    _version_12_file(path)
    _migrated_to(path, 14).close()
    with closing(sqlite3.connect(path)) as conn:
        rows_before = _rows(conn)
        objects_before = conn.execute(_SCHEMA_OBJECTS).fetchall()
        columns_before = conn.execute("PRAGMA table_xinfo(customer)").fetchall()
    assert len(rows_before["customer"]) == 2

    store = _migrated_to(path, 15)
    try:
        conn = store.conn
        assert schema.user_version(conn) == 15
        assert _rows(conn) == {
            **rows_before,
            "customer": [(*row, None) for row in rows_before["customer"]],
        }
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        table = ("table", "customer", "customer")
        objects = conn.execute(_SCHEMA_OBJECTS).fetchall()
        assert [o for o in objects if o[:3] != table] == [
            o for o in objects_before if o[:3] != table
        ]  # every index and trigger, of customer and of every other table, as it was
        columns = conn.execute("PRAGMA table_xinfo(customer)").fetchall()
        assert columns[:-1] == columns_before
        assert columns[-1][1:] == ("locale", "TEXT", 0, None, 0, 0)

        for tag in ("da-DK", "de", "zh-Hant-TW", "es-419", "a" * 35, None):
            with store.transaction() as c:
                c.execute("UPDATE customer SET locale = ? WHERE id = 1", (tag,))
            assert conn.execute("SELECT locale FROM customer WHERE id = 1").fetchone() == (tag,)
        for hostile in (
            "", "d", "a" * 36, "da_DK", "da DK", " da-DK", "da-DK\n", "../x", "d\u00e9",
            "\uff24\uff2b", "da\x00DK", "da\x00../../etc/passwd", b"da-DK", 1.5,
        ):  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"), store.transaction() as c:
                c.execute("UPDATE customer SET locale = ? WHERE id = 2", (hostile,))
        assert conn.execute("SELECT locale FROM customer WHERE id = 2").fetchone() == (None,)
    finally:
        store.close()


def test_an_invoice_written_without_timestamps_is_stamped_now_in_utc_as_the_code_writes(
    make: Callable[..., Path], db_path: Path
) -> None:
    """The defaults give the instant of the INSERT in UTC, in the shape the code writes
    its own (`datetime.isoformat()` of an aware UTC instant), the same in both columns."""
    make((1, 1000, "EUR"))
    before = datetime.now(UTC).replace(microsecond=0)
    with closing(sqlite3.connect(db_path)) as conn, conn:
        (created, updated) = conn.execute(
            "INSERT INTO invoice (customer_id, amount, currency, due_date) "
            "VALUES (1, 500, 'EUR', '2026-12-01') RETURNING created_at, updated_at"
        ).fetchone()
    after = datetime.now(UTC)
    stamped = datetime.fromisoformat(created)
    assert stamped.tzinfo == UTC
    assert created == stamped.isoformat(timespec="microseconds")
    assert before <= stamped <= after
    assert updated == created


def test_a_version_15_database_keeps_its_one_open_attempt_and_refuses_a_second_at_16(
    tmp_path: Path,
) -> None:
    """Version 16 holds one open attempt an invoice by a partial UNIQUE index, in place
    of the index of open attempts by id: every row is kept, the open attempt stays
    open, and a second open attempt for the same invoice is refused, whoever writes it;
    a second one settled, or an open one for another invoice, is not."""
    path = tmp_path / "v15.db"
    _version_12_file(path)
    _migrated_to(path, 15).close()
    attempt = (
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, outcome, started_at, finished_at, "
        "period) VALUES (?, 1, ?, ?, 1, 'bill', 100, 'EUR', 'PENDING', ?, 't', ?, '2026-12')"
    )
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(attempt, (7, 1, "k-7-1", "unknown", None))  # invoice 2's is open too
        rows_before = _rows(conn)
        objects_before = conn.execute(_SCHEMA_OBJECTS).fetchall()
    store = _migrated_to(path, 16)
    try:
        conn = store.conn
        assert schema.user_version(conn) == 16
        assert _rows(conn) == rows_before
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        objects = conn.execute(_SCHEMA_OBJECTS).fetchall()
        added = [o[1] for o in objects if o not in objects_before]
        gone = [o[1] for o in objects_before if o not in objects]
        assert (added, gone) == (["payment_attempt_one_open"], ["payment_attempt_open"])
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(attempt, (2, 2, "k-2-2", "started", None))
        conn.execute(attempt, (2, 2, "k-2-2", "abandoned", "t"))  # settled: not open
        conn.execute(attempt, (3, 1, "k-3-1", "started", None))  # another invoice
        assert conn.execute(
            "SELECT invoice_id FROM payment_attempt WHERE finished_at IS NULL ORDER BY 1"
        ).fetchall() == [(2,), (3,), (7,)]
    finally:
        store.close()
