"""Which failures are a row's fault (held, the pass goes on) and which are the
database's or the program's (the pass stops): `store.careful.is_row_error`, against
errors a real SQLite raises."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.results import Command, PassResult, RunStatus, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime
from antaeus_cli.domain.invoice import Rejection
from antaeus_cli.errors import LockLost
from antaeus_cli.store.careful import MAX_REASON, is_row_error, reason_of
from antaeus_cli.store.database import Store
from tests.conftest import ME, bounded_pass, ended_run, key_past_the_limit, key_taken_by_hand
from tests.fakes import DECLINED, LOST_REQUEST, FakeProvider, FixedClock, dead

Sql = Callable[..., list[tuple[Any, ...]]]
Edit = Callable[..., None]


def raised(run: Callable[[], object]) -> BaseException:
    try:
        run()
    except BaseException as exc:  # noqa: BLE001 - the exception is the value under test
        return exc
    raise AssertionError("nothing was raised")


@pytest.fixture
def conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))")
    return conn


def test_errors_a_rows_values_cause_are_the_rows(conn: sqlite3.Connection) -> None:
    row_errors = {
        "CHECK": lambda: conn.execute("INSERT INTO t (n) VALUES (-1)"),
        "NOT NULL": lambda: conn.execute("INSERT INTO t (n) VALUES (NULL)"),
        "UNIQUE": lambda: conn.execute("INSERT INTO t VALUES (1, 1), (1, 2)"),
        "datatype mismatch": lambda: conn.execute("INSERT INTO t VALUES ('x', 1)"),
        "integer overflow": lambda: conn.execute("SELECT abs(-9223372036854775808)").fetchone(),
        "a Python int past 64 bits": lambda: conn.execute("SELECT ?", (2**63,)),
        "a text that is not UTF-8": lambda: conn.execute("SELECT CAST(x'ff' AS TEXT)").fetchone(),
        "a string too big": lambda: conn.execute("SELECT zeroblob(1000000001)").fetchone(),
        "ValueError": lambda: int("x"),
        "TypeError": lambda: len(5),  # type: ignore[arg-type]
    }
    for name, run in row_errors.items():
        exc = raised(run)
        assert is_row_error(exc), (name, exc)


def test_the_database_and_the_program_stop_the_pass(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (n)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    busy = raised(lambda: other.execute("INSERT INTO t VALUES (1)"))
    holder.execute("ROLLBACK")
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    read_only = raised(lambda: reader.execute("INSERT INTO t VALUES (1)"))
    closed = sqlite3.connect(":memory:")
    closed.close()
    gone = raised(lambda: closed.execute("SELECT 1"))
    unbindable = raised(lambda: holder.execute("SELECT ?", (object(),)))
    mismatched = raised(lambda: holder.execute("SELECT ?, ?", (1,)))
    for conn in (holder, other, reader):
        conn.close()
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    corrupt.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
    io_error = sqlite3.OperationalError("disk I/O error")
    io_error.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE  # type: ignore[attr-defined]
    not_the_rows = {
        "busy": busy,
        "read-only": read_only,
        "full": full,
        "corrupt": corrupt,
        "I/O": io_error,
        "closed": gone,
        "a value the program should never bind": unbindable,
        "a statement and its parameters that do not match": mismatched,
        "lock lost": LockLost("another pass took the lock"),
        "a bug": RuntimeError("bug"),
        "interrupted": KeyboardInterrupt(),
    }
    for name, exc in not_the_rows.items():
        assert not is_row_error(exc), (name, exc)


def test_an_answer_the_database_refuses_to_record_holds_its_invoice_alone(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    """An operator's own trigger refuses every update of one attempt: its answer cannot
    be recorded, so its invoice waits with the reason, the attempt stays open to be
    looked up again, and the rest is billed."""
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    edit(
        "CREATE TRIGGER audit_first BEFORE UPDATE ON payment_attempt WHEN OLD.invoice_id = 2 "
        "BEGIN SELECT RAISE(ABORT, 'audit: not yet'); END"
    )
    result = bill(FakeProvider(), sweeps=0)
    [held] = result.counts.operator_items
    assert held.invoice_id == 2
    assert held.detail.startswith(
        "the provider answered charged, but its attempt row could not record it "
        "(IntegrityError: audit: not yet); it stays open"
    )
    assert sql("SELECT invoice_id FROM payment_attempt WHERE finished_at IS NULL") == [(2,)]
    assert sql("SELECT id, status FROM invoice") == [
        (1, "PAID"),
        (2, "NEEDS_OPERATOR"),
        (3, "PAID"),
    ]


def test_a_reason_is_capped() -> None:
    assert reason_of(ValueError("x" * (MAX_REASON - 12))) == "ValueError: " + "x" * (
        MAX_REASON - 12
    )
    long = reason_of(ValueError("y" * MAX_REASON))
    assert long == ("ValueError: " + "y" * MAX_REASON)[:MAX_REASON] + "..."


def test_a_row_that_breaks_a_batch_claim_holds_itself_and_the_pass_goes_on(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 8)])
    key_taken_by_hand(edit, 2, 2)
    provider = FakeProvider()
    result = bill(provider, batch_size=3, sweeps=0)
    assert sorted(invoice for invoice, _ in provider.calls) == [1, 3, 4, 5, 6, 7]
    [held] = result.counts.operator_items
    assert (held.invoice_id, held.code) == (2, "malformed")
    assert held.detail.startswith(
        "this invoice or its ledger holds a value the claim cannot take (IntegrityError: "
    )
    assert held.detail.endswith("); nothing was sent")
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(0,)]


def test_an_older_charge_still_in_doubt_keeps_its_invoice_from_a_second_open_attempt(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    """A hand edit left invoice 2 with an open attempt (its charge in doubt) under a
    newer, settled one, which the claim reads as the latest. The replay cannot settle the
    open one; the claim would take a third key, and the database's one-open-attempt rule
    (schema version 16) refuses it: the invoice is held, never charged again, and the
    rest of the batch is charged."""
    make(*[(i, 100, "EUR") for i in range(1, 5)])
    stamp = "2026-11-01T00:00:00+00:00"
    ended_run(edit, stamp)
    for attempt_no, outcome, finished in ((1, "unknown", None), (2, "abandoned", stamp)):
        edit(
            "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
            "run_id, command, amount, currency, from_status, outcome, started_at, finished_at) "
            "SELECT 2, 2, ?, value || '-inv-2-' || ?, 1, 'bill', 100, 'EUR', 'PENDING', ?, ?, ? "
            "FROM meta WHERE key = 'namespace'",
            attempt_no,
            attempt_no,
            outcome,
            stamp,
            finished,
        )
    provider = FakeProvider(can_lookup=False)
    result = bill(provider, batch_size=10, sweeps=0)
    assert sorted(invoice for invoice, _ in provider.calls) == [1, 3, 4]
    assert [(held.invoice_id, held.code) for held in result.counts.operator_items] == [
        (2, "malformed")
    ]
    assert "UNIQUE constraint failed" in result.counts.operator_items[0].detail
    assert sql("SELECT invoice_id, attempt_no FROM payment_attempt WHERE finished_at IS NULL") == [
        (2, 1)
    ]


def test_every_invoice_a_claim_one_at_a_time_holds_is_counted(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    """Holds that wrote no attempt row are each their own invoice's: the pass counts
    every one, not the first alone."""
    make(*[(i, 100, "EUR") for i in range(1, 8)])
    key_taken_by_hand(edit, 2, 2, (5, 5))
    result = bill(FakeProvider(), batch_size=10, sweeps=0)
    assert [(held.invoice_id, held.code) for held in result.counts.operator_items] == [
        (2, "malformed"),
        (5, "malformed"),
    ]
    assert result.counts.needs_operator == 2
    assert sql("SELECT count(*) FROM invoice WHERE status = 'NEEDS_OPERATOR'") == [(2,)]


def test_one_at_a_time_a_walk_still_leaves_what_a_breaker_handed_back_for_last(
    make: Callable[..., Path], bill: Callable[..., PassResult], edit: Edit
) -> None:
    """Invoice 1 was handed back by an earlier pass's tripped breaker; invoice 3's key is
    taken, so the first walk claims one invoice at a time: invoice 1 is still charged
    only after the fresh first charges, in the second walk."""
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    key_taken_by_hand(edit, 3, 3)
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, outcome, started_at, finished_at) "
        "SELECT 1, 1, 1, value || '-inv-1-1', 1, 'bill', 100, 'EUR', 'PENDING', 'declined', "
        "'2026-11-01T00:00:00+00:00', '2026-11-01T00:00:00+00:00' FROM meta "
        "WHERE key = 'namespace'"
    )
    provider = FakeProvider()
    result = bill(provider, sweeps=0)
    assert [invoice for invoice, _ in provider.calls] == [2, 4, 5, 1]
    assert [(held.invoice_id, held.code) for held in result.counts.operator_items] == [
        (3, "malformed")
    ]


def test_counters_the_database_refuses_leave_the_answer_recorded_with_a_note(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    edit(
        "CREATE TRIGGER no_counters BEFORE UPDATE OF provider_calls ON payment_attempt "
        "WHEN OLD.invoice_id = 2 BEGIN SELECT RAISE(ABORT, 'no counters'); END"
    )
    result = bill(FakeProvider(script={2: [DECLINED]}))
    assert (result.counts.paid, result.counts.declined) == (1, 1)
    assert sql("SELECT invoice_id, outcome, provider_calls, error FROM payment_attempt") == [
        (1, "charged", 1, None),
        (
            2,
            "declined",
            0,
            "soft decline (insufficient_funds): no funds; its counters could not be updated "
            "(IntegrityError: no counters)",
        ),
    ]


def test_an_invoice_that_can_take_neither_its_answer_nor_a_hold_gets_a_note_on_its_attempt(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    edit(
        "CREATE TRIGGER frozen BEFORE UPDATE ON invoice WHEN OLD.id = 2 "
        "BEGIN SELECT RAISE(ABORT, 'frozen by audit'); END"
    )
    result = bill(FakeProvider())
    assert result.counts.paid == 2
    [held] = result.counts.operator_items
    assert held.invoice_id == 2
    (outcome, finished, error), *_ = sql(
        "SELECT outcome, finished_at IS NOT NULL, error FROM payment_attempt WHERE invoice_id = 2"
    )
    assert (outcome, finished) == ("charged", 1)
    assert error == (
        "the provider's answer (charged) could not be recorded on this invoice: "
        "IntegrityError: frozen by audit; the ledger has it; the invoice could not be held: "
        "IntegrityError: frozen by audit"
    )
    assert sql("SELECT status FROM invoice WHERE id = 2") == [("PENDING",)]
    assert sql("SELECT count, amount FROM collected") == [(3, 300)]


def test_an_open_answer_whose_invoice_cannot_show_it_waits_for_its_look_up(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    edit(
        "CREATE TRIGGER frozen BEFORE UPDATE ON invoice WHEN OLD.id = 2 "
        "BEGIN SELECT RAISE(ABORT, 'frozen by audit'); END"
    )
    result = bill(FakeProvider(script={2: [LOST_REQUEST]}, can_lookup=False), sweeps=0)
    assert result.counts.paid == 1
    assert result.counts.operator_items == []
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 2") == [("unknown",)]
    assert sql("SELECT status FROM invoice WHERE id = 2") == [("PENDING",)]


def test_an_unreplayable_attempt_whose_invoice_cannot_be_held_gets_the_reason_itself(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    stamp = "2026-11-30T10:00:00+00:00"
    ended_run(edit, stamp, "crashed")
    edit(
        "INSERT INTO payment_attempt (id, invoice_id, customer_id, customer_ref, attempt_no, "
        "idempotency_key, run_id, command, amount, currency, from_status, started_at) "
        "VALUES (7, 2, 2, 'not a ref', 1, 'k-2-1', 1, 'bill', 100, 'EUR', 'PENDING', ?)",
        stamp,
    )
    edit(
        "CREATE TRIGGER frozen BEFORE UPDATE ON invoice WHEN OLD.id = 2 "
        "BEGIN SELECT RAISE(ABORT, 'frozen by audit'); END"
    )
    provider = FakeProvider()
    result = bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [1]
    assert [h.invoice_id for h in result.counts.operator_items] == [2]
    [(outcome, error)] = sql("SELECT outcome, error FROM payment_attempt WHERE id = 7")
    assert outcome == "started"  # never sent, never closed: an operator settles it
    assert error.startswith("attempt 7 is open but cannot be replayed (ValueError: ")
    assert error.endswith("; the invoice could not be held: IntegrityError: frozen by audit")


def test_an_unreplayable_attempt_of_a_deleted_invoice_gets_the_reason_itself(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Sql, edit: Edit
) -> None:
    """Found by the hand-edit property: with no invoice to hold, the reason must still
    be stated somewhere an operator looks."""
    make((1, 100, "EUR"))
    bill(FakeProvider())
    edit("DELETE FROM invoice WHERE id = 1")
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, started_at) "
        "SELECT 1, 0, 2, 'by-hand-0', max(id), 'bill', 1, 0, 'PENDING', 0 FROM billing_run"
    )
    bill(FakeProvider())
    [(error,)] = sql("SELECT error FROM payment_attempt WHERE finished_at IS NULL")
    assert error.endswith("; the invoice could not be held: it no longer exists")


class Told(SilentObserver):
    """What a pass tells its log about invoices it holds."""

    def __init__(self) -> None:
        self.held_ids: list[int] = []
        self.codes: list[str] = []

    def held(self, invoice_id: int, rejection: Rejection) -> None:
        self.held_ids.append(invoice_id)
        self.codes.append(rejection.code)


def test_an_answer_neither_the_attempt_nor_the_invoice_can_take_stops_nothing(
    make: Callable[..., Path], db_path: Path, sql: Sql, edit: Edit
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    for table, key in (("invoice", "id"), ("payment_attempt", "invoice_id")):
        edit(
            f"CREATE TRIGGER frozen_{table} BEFORE UPDATE ON {table} WHEN OLD.{key} = 2 "
            "BEGIN SELECT RAISE(ABORT, 'frozen by audit'); END"
        )
    told = Told()

    def edited(invoice_id: int) -> None:
        if invoice_id == 5:  # deleted during its call: its charge is one without an invoice
            edit("DELETE FROM invoice WHERE id = 5")
        if invoice_id == 4:  # changed by hand during its call: held when its answer lands
            edit("UPDATE invoice SET status = 'UNCOLLECTIBLE', failure_code = 'declined' "
                 "WHERE id = 4")  # fmt: skip

    store = Store.open(db_path)
    try:
        result = bounded_pass(
            store,
            FakeProvider(after_call=edited),
            PassRequest(Command.BILL, PassSettings(as_of=date(2026, 12, 1), sweeps=0)),
            Runtime(FixedClock(), StopRequest(), told, ME, dead),
        )
    finally:
        store.close()
    assert result.status is RunStatus.COMPLETED
    assert result.counts.paid == 2
    assert sorted(told.held_ids) == [2, 4, 5]
    assert sorted(told.codes) == ["edited_in_flight", "edited_in_flight", "malformed"]
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 2") == [("started",)]


def test_a_ledger_numbered_past_the_limit_is_held_on_every_path(
    make: Callable[..., Path],
    bill: Callable[..., PassResult],
    sql: Sql,
    edit: Edit,
    db_path: Path,
) -> None:
    """Attempt numbers written by hand past what a claim reads exactly: --dry-run, bill
    and a named retry each hold the invoice; none ends in an internal error."""
    from antaeus_cli.billing.results import Command
    from antaeus_cli.store.database import Store
    from tests.conftest import bounded_preview
    from tests.fakes import on

    make(*[(i, 100, "EUR") for i in range(1, 4)])
    key_past_the_limit(edit, 2, 2)
    store = Store.open(db_path)
    try:
        preview = bounded_preview(store, Command.BILL, on(date(2026, 12, 1)))
    finally:
        store.close()
    assert [(i.invoice_id, i.code) for i in preview.operator_items] == [(2, "malformed")]
    provider = FakeProvider()
    bill(provider)
    assert sorted(invoice for invoice, _ in provider.calls) == [1, 3]
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 2") == [
        ("NEEDS_OPERATOR", "malformed")
    ]
    # the reason names the last number a key can take, which the ledger's is past
    assert sql("SELECT failure_detail FROM invoice WHERE id = 2") == [
        (
            f"its ledger numbers an attempt {2**59 - 1} or more, past the last number a key "
            "can take: was the attempt written by hand? Settle the invoice by hand; nothing "
            "was sent",
        )
    ]
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert sorted(invoice for invoice, _ in provider.calls) == [1, 3]
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 2") == [
        ("NEEDS_OPERATOR", "malformed")
    ]
