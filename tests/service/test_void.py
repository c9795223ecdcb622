"""`antaeus void`, through its service: a VOID invoice is never charged again by any
path; a void that could hide money moved is refused whole; every void is recorded;
held invoices voided no longer count as held."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.billing.void import Operator, VoidResult, void_invoices
from antaeus_cli.domain.health import Thresholds
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.errors import InputError, NotRetryable, NotVoidable
from antaeus_cli.health import check
from antaeus_cli.reports import build_report
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store, read_only
from tests.conftest import bounded_preview
from tests.fakes import DECLINED, HARD, LOST_REQUEST, REFUSED, FakeProvider, dead, on

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
Edit = Callable[..., None]
Void = Callable[..., VoidResult]

DEC1, DEC2 = date(2026, 12, 1), date(2026, 12, 2)
WHEN = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
OPS = Operator("ops", "billing-1", 4242)
REASON = "corrected upstream as INV-2026-12-0042b (ticket OPS-17)"


@pytest.fixture
def void(db_path: Path) -> Void:
    """Void as `antaeus void` does: a dry run from a read-only snapshot, a void in a
    write transaction of its own."""

    def run(*ids: int, reason: str = REASON, dry_run: bool = False) -> VoidResult:
        if dry_run:
            return read_only(
                db_path,
                lambda store: void_invoices(
                    store, ids, reason=reason, now=WHEN, by=OPS, dry_run=True
                ),
            )
        store = Store.open(db_path)
        try:
            return void_invoices(store, ids, reason=reason, now=WHEN, by=OPS)
        finally:
            store.close()

    return run


def statuses(sql: Sql) -> dict[int, str]:
    return dict(sql("SELECT id, status FROM invoice ORDER BY id"))


def held_for_every_reason(make: Callable[..., Path], bill: Bill) -> None:
    """1: PENDING, due on the 2nd; 3: NEEDS_OPERATOR, its currency not its customer's;
    4: AWAITING_CUSTOMER, a lost card; 5: FAILED, to be retried; 6: PENDING, due on
    the 2nd, which nobody voids."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC2),
        SeedInvoice(3, 3, 500, "USD", DEC1),
        SeedInvoice(4, 4, 700, "EUR", DEC1),
        SeedInvoice(5, 5, 900, "EUR", DEC1),
        SeedInvoice(6, 6, 100, "EUR", DEC2),
        customers={1: "EUR", 3: "EUR", 4: "EUR", 5: "EUR", 6: "EUR"},
    )
    bill(FakeProvider(script={4: [HARD], 5: [DECLINED]}), as_of=DEC1)


def test_a_void_invoice_is_never_charged_on_any_path(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql, db_path: Path
) -> None:
    held_for_every_reason(make, bill)
    assert statuses(sql) == {
        1: "PENDING",
        3: "NEEDS_OPERATOR",
        4: "AWAITING_CUSTOMER",
        5: "FAILED",
        6: "PENDING",
    }
    result = void(1, 3, 4, 5)
    assert [one.invoice_id for one in result.voided] == [1, 3, 4, 5]
    assert statuses(sql) == {1: "VOID", 3: "VOID", 4: "VOID", 5: "VOID", 6: "PENDING"}

    later = date(2026, 12, 20)  # every due date and retry date has begun
    store = Store.open(db_path)
    try:
        for command in (Command.BILL, Command.RETRY_FAILED):
            preview = bounded_preview(store, command, on(later))
            assert {item.invoice_id for item in preview.listed} <= {6}
            held = [*preview.operator_items, *preview.awaiting_items]
            assert {item.invoice_id for item in held} == set()
        for invoice_id in (1, 3, 4, 5):
            with pytest.raises(NotRetryable, match=f"invoice {invoice_id} is VOID"):
                bounded_preview(store, Command.RETRY_FAILED, on(later), invoice_ids=(invoice_id,))
    finally:
        store.close()

    provider = FakeProvider()
    bill(provider, as_of=later)
    bill(provider, command=Command.RETRY_FAILED, as_of=later)
    for invoice_id in (1, 3, 4, 5):
        with pytest.raises(NotRetryable, match=f"invoice {invoice_id} is VOID"):
            bill(provider, command=Command.RETRY_FAILED, as_of=later, invoice_ids=(invoice_id,))
    assert [invoice for invoice, _ in provider.calls] == [6]
    assert statuses(sql) == {1: "VOID", 3: "VOID", 4: "VOID", 5: "VOID", 6: "PAID"}


def test_a_void_made_while_a_pass_runs_is_honoured_by_the_pass(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    """The breaker's sample is read when the pass begins and claimed a batch at a time:
    an invoice voided after the sample was read is judged again at its claim, and left.
    One the pass has claimed already has a charge open: its void is refused."""
    make(*[SeedInvoice(i, i, 1000, "EUR", DEC1) for i in range(1, 9)])
    voided: list[int] = []
    refused: list[int] = []

    def void_the_rest(_: int) -> None:
        if voided or refused:
            return
        for invoice_id in range(1, 9):
            try:
                void(invoice_id)
            except NotVoidable:
                refused.append(invoice_id)
            else:
                voided.append(invoice_id)

    provider = FakeProvider(after_call=void_the_rest)
    bill(provider, batch_size=1, concurrency=1, limits=RunLimits(breaker_window=4))
    charged = {invoice for invoice, _ in provider.calls}
    assert voided
    assert not charged & set(voided)
    assert charged == set(refused)  # claimed before the void: it goes on, and is paid
    assert all(statuses(sql)[i] == "VOID" for i in voided)


def test_a_void_that_could_hide_money_moved_is_refused_whole(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql, edit: Edit
) -> None:
    make(*[SeedInvoice(i, i, 1000, "EUR", DEC1) for i in range(1, 6)])
    # 2: its request lost, and the provider cannot look it up: in doubt
    bill(FakeProvider(script={2: [LOST_REQUEST]}, can_lookup=False), sweeps=0)
    assert statuses(sql) == {1: "PAID", 2: "PROCESSING", 3: "PAID", 4: "PAID", 5: "PAID"}
    edit(  # 4: set back by hand after its charge
        "UPDATE invoice SET status = 'FAILED', failure_code = 'declined', paid_at = NULL, "
        "next_retry_on = '2026-12-05' WHERE id = 4"
    )
    edit("UPDATE invoice SET status = 'PENDING', paid_at = NULL WHERE id = 5")
    edit(  # 6: PROCESSING by hand, no attempt at all
        "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date) "
        "VALUES (6, 1, 300, 'EUR', 'PROCESSING', '2026-12-01')"
    )
    edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date) "
        "VALUES (7, 1, 1, 'EUR', '2026-12-01')"
    )
    before = sql("SELECT * FROM invoice ORDER BY id")
    [(key_1,)] = sql("SELECT idempotency_key FROM payment_attempt WHERE invoice_id = 1")

    with pytest.raises(NotVoidable) as refused:
        void(7, 1, 2, 4, 5, 6, 99)
    message = refused.value.message
    said = [
        f"invoice 1 is PAID under key '{key_1}': money moved",
        "invoice 2 has a charge open or in doubt (key ",
        "invoice 4 is FAILED, but the ledger says key ",
        "invoice 5 is PENDING, but the ledger says key ",
        "invoice 6 is PROCESSING: its charge's outcome is not known",
        "invoice 99 does not exist; nothing was voided",
    ]
    assert [message.find(words) for words in said] == sorted(message.find(w) for w in said)
    assert -1 not in [message.find(words) for words in said]
    assert message.startswith(said[0])
    assert message.endswith(said[-1])
    assert "invoice 7" not in message  # 7 alone may be voided
    assert sql("SELECT * FROM invoice ORDER BY id") == before
    assert sql("SELECT count(*) FROM voiding") == [(0,)]
    with pytest.raises(NotVoidable, match="invoice 1 is PAID"):
        void(1, dry_run=True)  # a dry run refuses alike


def test_a_void_records_who_when_why_and_the_hold_it_ends(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    held_for_every_reason(make, bill)
    [(code, detail, totals)] = sql(
        "SELECT failure_code, failure_detail, (SELECT group_concat(amount) FROM invoice_total) "
        "FROM invoice WHERE id = 3"
    )
    assert code == "currency_mismatch"
    void(3, reason=f"  {REASON}  ")
    assert sql("SELECT invoice_id, from_status, failure_code, failure_detail, reason, "
               "voided_at, voided_by, host, pid FROM voiding") == [
        (3, "NEEDS_OPERATOR", code, detail, REASON, WHEN.isoformat(), "ops", "billing-1", 4242)
    ]  # fmt: skip
    assert sql(
        "SELECT status, amount, currency, failure_code, failure_detail, next_retry_on, "
        "updated_at, (SELECT group_concat(amount) FROM invoice_total) FROM invoice WHERE id = 3"
    ) == [("VOID", 500, "USD", None, None, None, WHEN.isoformat(), totals)]
    void(5)  # a FAILED one loses its retry date, and keeps its dunning history
    assert sql("SELECT status, next_retry_on, decline_count FROM invoice WHERE id = 5") == [
        ("VOID", None, 1)
    ]


def test_a_dry_run_says_what_would_be_voided_and_writes_nothing(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    held_for_every_reason(make, bill)
    everything = "SELECT (SELECT group_concat(status) FROM invoice), (SELECT count(*) FROM voiding)"
    before = sql(everything)
    result = void(3, 5, dry_run=True)
    assert result.dry_run
    assert [(one.invoice_id, one.status.value) for one in result.voided] == [
        (3, "NEEDS_OPERATOR"),
        (5, "FAILED"),
    ]
    assert sql(everything) == before


def test_an_invoice_voided_already_is_left_as_it_is(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    held_for_every_reason(make, bill)
    void(3)
    again = void(3, 5, reason="another word")
    assert [one.invoice_id for one in again.voided] == [5]
    assert [(one.invoice_id, one.void_reason) for one in again.already] == [(3, REASON)]
    assert sql("SELECT invoice_id, reason FROM voiding ORDER BY id") == [
        (3, REASON),
        (5, "another word"),
    ]


def test_voiding_withdraws_the_notices_of_its_declines_not_yet_sent(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql, edit: Edit
) -> None:
    """'We will try again on ...' must not reach a customer whose invoice was voided;
    what went out already stays as it went."""
    held_for_every_reason(make, bill)
    notices = "SELECT a.invoice_id, n.kind, n.status FROM notification n " \
        "JOIN payment_attempt a ON a.id = n.attempt_id ORDER BY a.invoice_id"  # fmt: skip
    assert sql(notices) == [(4, "action_required", "pending"), (5, "payment_failed", "pending")]
    edit("UPDATE notification SET status = 'sent', sent_at = 't' WHERE kind = 'action_required'")
    result = void(4, 5)
    assert result.notices_withdrawn == 1
    assert sql(notices) == [(4, "action_required", "sent"), (5, "payment_failed", "withdrawn")]


def test_the_twin_of_a_month_already_charged_may_be_voided(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    """Voiding moves no money: a month the ledger says was charged refuses nothing, and
    the void says which charge paid it."""
    make(SeedInvoice(1, 1, 1000, "EUR", DEC1), SeedInvoice(2, 1, 1000, "EUR", DEC1))
    provider = FakeProvider()
    bill(provider)
    assert statuses(sql) == {1: "NEEDS_OPERATOR", 2: "NEEDS_OPERATOR"}
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    [key] = provider.charged_keys
    result = void(2)
    assert [(one.invoice_id, one.month_charged) for one in result.voided] == [(2, key)]
    assert statuses(sql) == {1: "PAID", 2: "VOID"}


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("", "must say why"),
        ("   ", "must say why"),
        ("wrong\namount", "one line"),
        ("wrong\x1b[31mamount", "one line"),
        ("x" * 501, "at most 500"),
    ],
)
def test_a_void_says_why_in_one_line(
    make: Callable[..., Path], void: Void, sql: Sql, reason: str, why: str
) -> None:
    make(SeedInvoice(1, 1, 1000, "EUR", DEC1))
    with pytest.raises(InputError, match=why):
        void(1, reason=reason)
    assert statuses(sql) == {1: "PENDING"}
    void(1, reason="x" * 500)
    assert statuses(sql) == {1: "VOID"}


def test_check_no_longer_warns_of_held_invoices_once_they_are_voided(
    make: Callable[..., Path], bill: Bill, void: Void, db_path: Path
) -> None:
    held_for_every_reason(make, bill)

    def findings() -> set[str]:
        store = Store.open(db_path)
        try:
            health = check(store, now=WHEN, limits=Thresholds(), is_alive=dead)
        finally:
            store.close()
        return {finding.check for finding in health.findings}

    assert "needs_operator" in findings()
    void(3)
    assert "needs_operator" not in findings()


def test_report_shows_void_invoices_with_when_why_and_who_and_holds_them_no_more(
    make: Callable[..., Path], bill: Bill, void: Void, db_path: Path, edit: Edit
) -> None:
    held_for_every_reason(make, bill)
    void(3, 4)
    edit(  # by hand
        "UPDATE invoice SET status = 'VOID', failure_code = NULL, next_retry_on = NULL WHERE id = 5"
    )
    store = Store.open(db_path)
    try:
        report = build_report(store, now=WHEN)
    finally:
        store.close()
    assert (report.needs_operator, report.needs_operator_total) == ([], 0)
    assert report.awaiting_customer == []
    assert report.voided_total == 3
    assert [
        (row["invoice_id"], row["voided_at"], row["reason"], row["voided_by"], row["host"])
        for row in report.voided
    ] == [
        (3, WHEN.isoformat(), REASON, "ops", "billing-1"),
        (4, WHEN.isoformat(), REASON, "ops", "billing-1"),
        (5, None, None, None, None),  # set by hand: nothing says who, when or why
    ]
    assert [(row["from_status"], row["failure_code"]) for row in report.voided[:2]] == [
        ("NEEDS_OPERATOR", "currency_mismatch"),
        ("AWAITING_CUSTOMER", "hard_decline"),
    ]
    assert report.voided[0]["amount_formatted"] == "USD 5.00"
    void_totals = {
        (t.currency, t.count, t.amount_minor) for t in report.totals if t.status == "VOID"
    }
    assert void_totals == {("USD", 1, 500), ("EUR", 2, 1600)}


# -- twins: a hold for the month says what became of the invoice it named ---------------


def twins(make: Callable[..., Path], bill: Bill, sql: Sql) -> FakeProvider:
    """Invoices 1 and 2 bill customer 1's December: a pass holds both."""
    make(SeedInvoice(1, 1, 1000, "EUR", DEC1), SeedInvoice(2, 1, 1100, "EUR", DEC1))
    provider = FakeProvider()
    bill(provider)
    assert statuses(sql) == {1: "NEEDS_OPERATOR", 2: "NEEDS_OPERATOR"}
    return provider


def hold_of(sql: Sql, invoice_id: int) -> tuple[str, str, str]:
    [found] = sql(
        "SELECT status, failure_code, failure_detail FROM invoice WHERE id = ?", invoice_id
    )
    return found


def test_voiding_one_twin_rewords_the_other_s_hold_and_a_word_charges_it(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    provider = twins(make, bill, sql)
    result = void(1)
    [(invoice_id, text)] = result.reworded
    assert invoice_id == 2
    assert text.startswith("invoice 1 billed customer 1 for the same month, and is VOID now: ")
    assert "no other invoice bills the month of 2026-12" in text
    assert hold_of(sql, 2) == ("NEEDS_OPERATOR", "duplicate_period", text)  # still held
    bill(provider)
    assert provider.calls == []  # only an operator's word releases it
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert [invoice for invoice, _ in provider.calls] == [2]
    assert statuses(sql) == {1: "VOID", 2: "PAID"}


def test_charging_one_twin_rewords_the_other_s_hold_to_the_charge_without_its_key(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql
) -> None:
    """Released and paid: the other's hold no longer says 'invoice 1 bills the month',
    but that a charge for it succeeded; a word on it shows the charge's key first."""
    provider = twins(make, bill, sql)
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    [key] = provider.charged_keys
    _, code, text = hold_of(sql, 2)
    assert code == "duplicate_period"
    assert text.startswith("a charge for customer 1's month of 2026-12, by invoice 1, succeeded")
    assert key not in text
    result = void(2)  # not owed: the month is paid
    assert [(one.invoice_id, one.month_charged) for one in result.voided] == [(2, key)]
    assert result.reworded == []
    assert statuses(sql) == {1: "PAID", 2: "VOID"}


def test_a_pass_rewords_a_hold_whose_twin_was_voided_by_hand_or_written_before(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Edit
) -> None:
    """Whatever moved the twin (a hand edit too), the next pass says so; a hold worded as
    earlier releases wrote it ('both are held') gets the words of today."""
    provider = twins(make, bill, sql)
    edit(
        "UPDATE invoice SET failure_detail = 'invoice 1 bills customer 1 for the same month: "
        "both are held, never charged twice for one period' WHERE id = 2"
    )
    bill(provider)
    assert hold_of(sql, 2)[2] == (
        "invoice 1 bills customer 1 for the same month: never charged twice for one period; "
        "release the one that is owed with 'retry-failed --invoice', and void the other with "
        "'antaeus void'"
    )
    edit("UPDATE invoice SET status = 'VOID', failure_code = NULL WHERE id = 1")
    bill(provider)
    assert hold_of(sql, 2)[2].startswith(
        "invoice 1 billed customer 1 for the same month, and is VOID now: "
    )
    assert provider.calls == []


# -- the correction path: a held invoice corrected upstream under a new external_id -----

CORRECTED = (
    "INSERT INTO invoice (id, customer_id, amount, currency, due_date, external_id) "
    "VALUES (2, 1, ?, ?, '2026-12-01', 'INV-42b')"
)


@pytest.mark.parametrize(
    ("amount", "currency", "first", "held_for"),
    [
        (1230, "BHD", [REFUSED], "provider_error"),  # the provider refuses the amount
        (1230, "USD", [], "currency_mismatch"),  # not the customer's currency
    ],
)
def test_the_correction_path_void_the_old_invoice_first_then_bill_the_new_one(
    make: Callable[..., Path],
    bill: Bill,
    void: Void,
    sql: Sql,
    edit: Edit,
    amount: int,
    currency: str,
    first: list[str],
    held_for: str,
) -> None:
    make(SeedInvoice(1, 1, amount, currency, DEC1), customers={1: "BHD"})
    bill(FakeProvider(script={1: first} if first else {}))
    assert hold_of(sql, 1)[:2] == ("NEEDS_OPERATOR", held_for)
    void(1, reason="corrected upstream as INV-42b")
    edit(CORRECTED, 1200, "BHD")
    provider = FakeProvider()
    bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [2]
    assert statuses(sql) == {1: "VOID", 2: "PAID"}


def test_the_correction_path_when_the_new_invoice_was_billed_before_the_void(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql, edit: Edit
) -> None:
    """Imported first: the next pass holds the corrected invoice as the old one's twin.
    Voiding the old one says so in its hold; naming it charges it."""
    make(SeedInvoice(1, 1, 1230, "BHD", DEC1), customers={1: "BHD"})
    bill(FakeProvider(script={1: [REFUSED]}))
    edit(CORRECTED, 1200, "BHD")
    provider = FakeProvider()
    with pytest.raises(NotRetryable, match="invoice 2 is PENDING: 'antaeus bill' charges it"):
        bill(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    bill(provider)
    assert hold_of(sql, 2)[:2] == ("NEEDS_OPERATOR", "duplicate_period")
    result = void(1, reason="corrected upstream as INV-42b")
    assert [invoice_id for invoice_id, _ in result.reworded] == [2]
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert [invoice for invoice, _ in provider.calls] == [2]
    assert statuses(sql) == {1: "VOID", 2: "PAID"}


def test_a_hold_written_by_hand_in_any_shape_never_stops_a_pass(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Edit
) -> None:
    """Holds for the month whose twin, invoice 4, is voided, edited by hand: one into
    text that is not UTF-8, one naming a number past any row id; and an operator's
    trigger that refuses the rewording of a third. Each keeps its words, and the pass
    completes; without the trigger, the third is reworded."""
    make(*[SeedInvoice(i, 1, 1000 + i, "EUR", DEC1) for i in (1, 2, 3, 4)])
    provider = FakeProvider()
    bill(provider)
    assert set(statuses(sql).values()) == {"NEEDS_OPERATOR"}
    names_4 = "invoice 4 bills customer 1 for the same month"
    edit(
        "UPDATE invoice SET failure_detail = CAST(CAST(? AS BLOB) || X'FF' AS TEXT) WHERE id = 1",
        names_4,
    )
    edit(
        "UPDATE invoice SET failure_detail = ? WHERE id = 2", "invoice " + "9" * 5000 + names_4[9:]
    )
    edit("UPDATE invoice SET failure_detail = ? WHERE id = 3", names_4)
    edit("UPDATE invoice SET status = 'VOID', failure_code = NULL WHERE id = 4")
    edit(
        "CREATE TRIGGER keep_3 BEFORE UPDATE OF failure_detail ON invoice WHEN OLD.id = 3 "
        "BEGIN SELECT RAISE(ABORT, 'an operator keeps this one'); END"
    )
    words = "SELECT id, CAST(failure_detail AS BLOB) FROM invoice ORDER BY id"
    before = sql(words)
    result = bill(provider)
    assert result.status.value == "completed"
    assert sql(words) == before
    edit("DROP TRIGGER keep_3")
    bill(provider)
    after = sql(words)
    assert after[:2] == before[:2]
    assert after[2][1].decode().startswith("invoice 1 bills customer 1 for the same month: ")
    assert provider.calls == []


def test_an_invoice_whose_hold_was_written_by_hand_in_bytes_may_be_voided(
    make: Callable[..., Path], bill: Bill, void: Void, sql: Sql, edit: Edit
) -> None:
    held_for_every_reason(make, bill)
    edit("UPDATE invoice SET failure_detail = CAST(X'6F6BFF' AS TEXT) WHERE id = 3")
    assert [one.failure_detail for one in void(3, dry_run=True).voided] == ["ok\ufffd"]
    void(3)
    assert sql("SELECT failure_detail FROM voiding") == [("ok\ufffd",)]
    assert statuses(sql)[3] == "VOID"
