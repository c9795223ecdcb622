"""Every guard on every path that can charge: one matrix. In each cell the guard
applies, no money moves and the invoice is held, or left to wait, as the judgement
(domain.judgement) says; a dry run reports it so, never as to charge. The cells where
a guard cannot apply to a path are listed with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from antaeus_cli.billing.preview_result import PreviewResult
from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.billing.void import Operator, void_invoices
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.errors import NotRetryable
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store
from tests.conftest import bounded_preview
from tests.fakes import DECLINED, HARD, LOST_REQUEST, Crash, FakeProvider

Sql = Callable[..., list[tuple[Any, ...]]]
Edit = Callable[..., None]

# Earlier passes (a decline, a charge, a crash) ran on the 29th; the pass under test
# runs at 06:00 UTC on December 1st: the 1st in the company's zone (UTC), still the
# 30th where a customer in Etc/GMT+12 is.
BEFORE = date(2026, 11, 29)
AT = AsOf.parse("2026-12-01T06:00:00Z")
CLOCK = PassClock(AT, UTC)
BEHIND = "Etc/GMT+12"
NOV = date(2026, 11, 29)  # the month the guarded invoices bill

GUARDS = [
    "not due",  # its due date has not begun where the customer is
    "retry date",  # its retry date has not begun where the customer is
    "duplicate month by rows",  # another invoice bills the customer's month
    "duplicate month by money",  # another invoice's charge for the month is in doubt
    "unusual amount",  # 1,000 times the usual, edited after a decline
    "card said never",  # its latest answer was a hard decline; set back by hand
    "charged already",  # its latest attempt charged it; set back by hand
    "unknown zone",  # the zone database does not know the customer's zone
    "void",  # an operator voided it
]
PATHS = [
    "bill",
    "retry-failed",
    "retry-failed --invoice",
    "bill --dry-run",
    "retry-failed --dry-run",
    "retry-failed --invoice --dry-run",
    "replay",
]
_JUDGED_ONCE = (
    "a replay re-sends a request judged when it was claimed and never changed since; "
    "only the money facts around it (replay_verdict) are asked again"
)
NOT_APPLICABLE = {
    ("retry date", "bill"): "bill charges PENDING invoices, which have no retry date",
    ("retry date", "bill --dry-run"): "bill charges PENDING invoices, which have no retry date",
    ("retry date", "retry-failed --invoice"): (
        "an operator's word charges now: it overrides the retry date by design (never the "
        "due date, the 'not due' row)"
    ),
    ("retry date", "retry-failed --invoice --dry-run"): "as retry-failed --invoice",
    ("retry date", "replay"): _JUDGED_ONCE,
    ("not due", "replay"): _JUDGED_ONCE,
    ("duplicate month by rows", "replay"): (
        f"{_JUDGED_ONCE}: a twin invoice is not; its charge, if it had one, is (the "
        "'duplicate month by money' row)"
    ),
    ("unusual amount", "replay"): (
        "a replay sends the amount recorded with its key, never an edited one: an edit "
        "while in flight sends the invoice to an operator (invoice_edited_in_flight)"
    ),
    ("card said never", "replay"): "the card's answer settled its key: nothing is left to replay",
    ("unknown zone", "replay"): (
        "a key that may have moved money is settled whatever its customer's zone (its "
        "dunning dates count from the company's date)"
    ),
}
CELLS = [
    pytest.param(guard, path, id=f"{guard} / {path}")
    for guard in GUARDS
    for path in PATHS
    if (guard, path) not in NOT_APPLICABLE
]


@dataclass
class World:
    make: Callable[..., Path]
    bill: Callable[..., PassResult]
    sql: Sql
    edit: Edit
    db_path: Path

    def now(self, provider: FakeProvider, **settings: Any) -> PassResult:
        """The pass under test."""
        return self.bill(provider, as_of=AT, company_zone=UTC, **settings)

    def before(self, provider: FakeProvider, **settings: Any) -> PassResult:
        """An earlier pass, on the 29th."""
        return self.bill(provider, as_of=BEFORE, company_zone=UTC, **settings)

    def state(self, invoice: int) -> list[tuple[Any, ...]]:
        return self.sql("SELECT status, failure_code FROM invoice WHERE id = ?", invoice)


@pytest.fixture
def world(
    make: Callable[..., Path],
    bill: Callable[..., PassResult],
    sql: Sql,
    edit: Edit,
    db_path: Path,
) -> World:
    return World(make, bill, sql, edit, db_path)


class Case(NamedTuple):
    invoice: int  # the guarded invoice
    held: tuple[str, str] | None  # (status, failure_code) it is held with; None: it waits
    lookups: bool = True  # whether the provider of the pass under test can look keys up
    # why naming an invoice that waits is refused (an operator's word releases no wait)
    refusal: str = "never charged before its due date"


# -- the guards, each arranged for bill ("pending") or for retry-failed ("failed") --


def failed(invoice: int, customer: int, due: date, retry: date = date(2026, 11, 30)) -> Any:
    """FAILED after one decline, due to be retried on `retry`."""
    return SeedInvoice(invoice, customer, 1000, "EUR", due, "FAILED", 1, retry)


def seeded(kind: str, due: date, retry: date = date(2026, 11, 30)) -> Any:
    return failed(1, 1, due, retry) if kind == "failed" else SeedInvoice(1, 1, 1000, "EUR", due)


def set_back(world: World, kind: str, invoice: int = 1) -> None:
    """Set back by hand: to PENDING (bill charges it) or to FAILED, its retry date the
    30th (retry-failed charges it)."""
    if kind == "pending":
        world.edit(
            "UPDATE invoice SET status = 'PENDING', failure_code = NULL, failure_detail = NULL, "
            "next_retry_on = NULL, paid_at = NULL WHERE id = ?",
            invoice,
        )
    else:
        world.edit(
            "UPDATE invoice SET status = 'FAILED', failure_code = 'declined', "
            "next_retry_on = '2026-11-30', paid_at = NULL WHERE id = ?",
            invoice,
        )


def not_due(world: World, kind: str) -> Case:
    # due on the 1st, and it is still the 30th where the customer is (a FAILED one's
    # retry date, the 30th, has begun there: only its due date has not)
    world.make(seeded(kind, date(2026, 12, 1)))
    world.edit("UPDATE customer SET timezone = ? WHERE id = 1", BEHIND)
    return Case(1, None)


def retry_date(world: World, kind: str) -> Case:
    assert kind == "failed"  # see NOT_APPLICABLE
    world.make(failed(1, 1, NOV, retry=date(2026, 12, 1)))
    world.edit("UPDATE customer SET timezone = ? WHERE id = 1", BEHIND)
    return Case(1, None)


def duplicate_by_rows(world: World, kind: str) -> Case:
    # invoice 2 bills the same month for the same customer (due later that month)
    world.make(seeded(kind, NOV), SeedInvoice(2, 1, 1000, "EUR", date(2026, 11, 30)))
    return Case(1, ("NEEDS_OPERATOR", "duplicate_period"))


def duplicate_by_money(world: World, kind: str) -> Case:
    """Invoice A's charge is in doubt (the provider booked it; the pass died before it
    knew); A is edited meanwhile, so it goes to an operator and no longer bills its
    month by the rows; corrected invoice B is inserted for the same month. B must not
    be charged while A's charge may have succeeded."""
    world.make(SeedInvoice(1, 1, 1000, "EUR", NOV))
    with pytest.raises(Crash):
        world.before(FakeProvider(crash_after_booking={1}))
    world.edit("UPDATE invoice SET amount = 1100 WHERE id = 1")
    assert world.state(1) == [("NEEDS_OPERATOR", "edited_in_flight")]
    insert_b(world, kind)
    # the provider of the pass under test cannot look A's key up: it stays in doubt
    return Case(2, ("NEEDS_OPERATOR", "duplicate_period"), lookups=False)


def insert_b(world: World, kind: str) -> None:
    world.edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
        "updated_at) VALUES (2, 1, 1100, 'EUR', '2026-11-29', 'x', 'x')"
    )
    if kind == "failed":  # declined before (say, on another card)
        world.edit(
            "UPDATE invoice SET status = 'FAILED', failure_code = 'declined', "
            "decline_count = 1, first_declined_on = '2026-11-29', "
            "next_retry_on = '2026-11-30' WHERE id = 2"
        )


def unusual_amount(world: World, kind: str) -> Case:
    # three paid invoices of EUR 1.00 in earlier months; this one EUR 1.00, declined on
    # the 29th, then edited to EUR 1,000.00
    paid = [SeedInvoice(10 + n, 1, 100, "EUR", date(2026, 8 + n, 1), "PAID") for n in range(3)]
    world.make(*paid, SeedInvoice(1, 1, 100, "EUR", NOV), customers={1: "EUR"})
    world.before(FakeProvider(script={1: [DECLINED]}))
    assert world.sql("SELECT status, next_retry_on FROM invoice WHERE id = 1") == [
        ("FAILED", "2026-11-30")
    ]
    world.edit("UPDATE invoice SET amount = 100000 WHERE id = 1")
    if kind == "pending":  # set back by hand: bill's second walk charges it
        set_back(world, kind)
    return Case(1, ("NEEDS_OPERATOR", "amount_anomaly"))


def card_said_never(world: World, kind: str) -> Case:
    world.make(SeedInvoice(1, 1, 1000, "EUR", NOV))
    world.before(FakeProvider(script={1: [HARD]}))
    assert world.state(1) == [("AWAITING_CUSTOMER", "hard_decline")]
    set_back(world, kind)
    return Case(1, ("AWAITING_CUSTOMER", "hard_decline"))


def charged_already(world: World, kind: str) -> Case:
    world.make(SeedInvoice(1, 1, 1000, "EUR", NOV))
    world.before(FakeProvider())
    assert world.state(1) == [("PAID", None)]
    set_back(world, kind)
    return Case(1, ("NEEDS_OPERATOR", "already_charged"))


def unknown_zone(world: World, kind: str) -> Case:
    world.make(seeded(kind, NOV))
    world.edit("UPDATE customer SET timezone = 'Mars/Olympus' WHERE id = 1")
    return Case(1, ("NEEDS_OPERATOR", "malformed"))


def voided(world: World, kind: str) -> Case:
    """Due, sound, never charged, and voided by an operator (`antaeus void`): no path
    charges it, and naming it is refused."""
    world.make(seeded(kind, NOV))
    store = Store.open(world.db_path)
    try:
        now = datetime(2026, 11, 30, tzinfo=UTC)
        void_invoices(store, [1], reason="not owed", now=now, by=Operator("ops", "h", 1))
    finally:
        store.close()
    assert world.state(1) == [("VOID", None)]
    return Case(1, None, refusal="invoice 1 is VOID")


ARRANGE: dict[str, Callable[[World, str], Case]] = {
    "not due": not_due,
    "retry date": retry_date,
    "duplicate month by rows": duplicate_by_rows,
    "duplicate month by money": duplicate_by_money,
    "unusual amount": unusual_amount,
    "card said never": card_said_never,
    "charged already": charged_already,
    "unknown zone": unknown_zone,
    "void": voided,
}


# -- the replays, where a guard applies to one ------------------------------------------


def replay_after_the_month_was_charged(world: World) -> tuple[FakeProvider, int]:
    """A's charge never reached the provider, but stays open (it could not be looked
    up); A is edited, B inserted and held for the month, then released by name and
    charged. When A is replayed, the provider does not know its key: it must not be
    sent again, for B's charge paid the month."""
    world.make(SeedInvoice(1, 1, 1000, "EUR", NOV))
    lost = FakeProvider(default=LOST_REQUEST, can_lookup=False)
    world.before(lost, sweeps=0, outage_threshold=100)
    world.edit("UPDATE invoice SET amount = 1100 WHERE id = 1")
    insert_b(world, "pending")
    blind = FakeProvider(can_lookup=False)
    world.now(blind)
    assert world.state(2) == [("NEEDS_OPERATOR", "duplicate_period")]
    world.now(blind, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert world.state(2) == [("PAID", None)]
    assert lost.charged_keys == []
    assert len(blind.charges_for(2)) == 1
    return blind, 1


def replay_after_the_invoice_was_charged(world: World) -> tuple[FakeProvider, int]:
    """The invoice's first key never reached the provider and stays open; its second
    (written by hand: charged by other means, and recorded) charged it. When the first
    is replayed, the provider does not know it: it must not be sent again."""
    world.make(SeedInvoice(1, 1, 1000, "EUR", NOV))
    lost = FakeProvider(default=LOST_REQUEST, can_lookup=False)
    world.before(lost, sweeps=0, outage_threshold=100)
    world.edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, outcome, started_at, finished_at, "
        "period) VALUES (1, 1, 2, 'by-hand-1-2', 1, 'bill', 1000, 'EUR', 'PENDING', "
        "'charged', '2026-11-29T12:00:00+00:00', '2026-11-29T12:00:00+00:00', '2026-11')"
    )
    world.edit(
        "UPDATE invoice SET status = 'PAID', paid_at = '2026-11-29T12:00:00+00:00' WHERE id = 1"
    )
    return lost, 1


def replay_after_the_invoice_was_voided(world: World) -> tuple[FakeProvider, int]:
    """The invoice's key never reached the provider and stays open; the invoice is set
    to VOID by hand meanwhile (`antaeus void` refuses an invoice in flight). When the
    key is replayed, the provider does not know it: it must not be sent again."""
    world.make(SeedInvoice(1, 1, 1000, "EUR", NOV))
    lost = FakeProvider(default=LOST_REQUEST, can_lookup=False)
    world.before(lost, sweeps=0, outage_threshold=100)
    world.edit("UPDATE invoice SET status = 'VOID' WHERE id = 1")
    return lost, 1


REPLAYS: dict[str, tuple[Callable[[World], tuple[FakeProvider, int]], str]] = {
    "duplicate month by money": (
        replay_after_the_month_was_charged,
        "a charge for its customer's month under key",
    ),
    "charged already": (
        replay_after_the_invoice_was_charged,
        "another attempt charged its invoice already",
    ),
    "void": (replay_after_the_invoice_was_voided, "its invoice was set to VOID meanwhile"),
}


# -- the matrix ----------------------------------------------------------------------


def test_the_matrix_names_every_cell_it_does_not_run() -> None:
    ran = {(guard, path) for guard in GUARDS for path in PATHS} - NOT_APPLICABLE.keys()
    assert NOT_APPLICABLE.keys() <= {(guard, path) for guard in GUARDS for path in PATHS}
    assert {p.values[:2] for p in CELLS} == ran
    assert {guard for guard, path in ran if path == "replay"} == REPLAYS.keys()
    assert all(why for why in NOT_APPLICABLE.values())


@pytest.mark.parametrize(("guard", "path"), CELLS)
def test_every_guard_holds_on_every_path(guard: str, path: str, world: World) -> None:
    if path == "replay":
        replays_hold(world, guard)
        return
    case = ARRANGE[guard](world, "pending" if path.startswith("bill") else "failed")
    before = world.state(case.invoice)
    command = Command.BILL if path.startswith("bill") else Command.RETRY_FAILED
    named = (case.invoice,) if "--invoice" in path else ()
    # An operator's word never releases a due date: the name itself is refused.
    refused = named and case.held is None
    if "--dry-run" in path:
        preview = dry_run(world, command, named, refused=case.refusal if refused else None)
        if preview is not None:
            assert preview.to_charge == []
            assert preview.listed == []
            listed = [*preview.operator_items, *preview.awaiting_items]
            items = {(item.invoice_id, item.code) for item in listed}
            if case.held is None:
                assert case.invoice not in {invoice for invoice, _ in items}
            else:
                assert (case.invoice, case.held[1]) in items
        assert world.state(case.invoice) == before  # a dry run writes nothing
        return
    provider = FakeProvider(can_lookup=case.lookups)
    if refused:
        with pytest.raises(NotRetryable, match=case.refusal):
            world.now(provider, command=command, invoice_ids=named)
    else:
        result = world.now(provider, command=command, invoice_ids=named)
        held = {(item.invoice_id, item.code) for item in result.counts.operator_items}
        if case.held is not None and case.held[0] == "AWAITING_CUSTOMER":
            # held for the customer, not for an operator: counted apart
            assert result.counts.awaiting_customer >= 1
            assert case.invoice not in {invoice for invoice, _ in held}
        else:
            assert (case.held is None) or ((case.invoice, case.held[1]) in held)
    assert provider.calls == []  # no money moved
    assert world.state(case.invoice) == ([case.held] if case.held else before)


def dry_run(
    world: World, command: Command, named: tuple[int, ...], *, refused: str | None
) -> PreviewResult | None:
    store = Store.open(world.db_path)
    try:
        if refused is not None:
            with pytest.raises(NotRetryable, match=refused):
                bounded_preview(store, command, CLOCK, invoice_ids=named)
            return None
        return bounded_preview(store, command, CLOCK, invoice_ids=named)
    finally:
        store.close()


def replays_hold(world: World, guard: str) -> None:
    arrange, why = REPLAYS[guard]
    _, invoice = arrange(world)
    [(key,)] = world.sql(
        "SELECT idempotency_key FROM payment_attempt WHERE invoice_id = ? AND finished_at IS NULL",
        invoice,
    )
    knows_nothing = FakeProvider()  # the key never reached it
    result = world.now(knows_nothing)
    assert knows_nothing.lookups == [key]  # looked up, not found ...
    assert knows_nothing.calls == []  # ... and not sent again: no money moved
    assert result.counts.reconciled == 1
    [(outcome, error)] = world.sql(
        "SELECT outcome, error FROM payment_attempt WHERE idempotency_key = ?", key
    )
    assert outcome == "lapsed"
    assert why in error


# -- what an operator's word releases -----------------------------------------------------


@pytest.mark.parametrize(
    ("guard", "released"),
    [
        ("duplicate month by rows", True),
        ("duplicate month by money", True),  # the operator's call: the month is owed twice
        ("unusual amount", True),
        ("card said never", True),  # the customer acted: a new card
        ("charged already", False),  # never twice, whatever an operator says
        ("unknown zone", False),  # no date can be told until the zone is fixed
    ],
)
def test_an_operator_word_releases_the_hold_it_names_and_no_other(
    guard: str, released: bool, world: World
) -> None:
    case = ARRANGE[guard](world, "failed")
    assert case.held is not None
    provider = FakeProvider(can_lookup=case.lookups)
    world.now(provider, command=Command.RETRY_FAILED)  # the scheduled retry holds it
    assert world.state(case.invoice) == [case.held]
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(case.invoice,))
    if released:
        assert [invoice for invoice, _ in provider.calls] == [case.invoice]
        assert world.state(case.invoice) == [("PAID", None)]
    else:
        assert provider.calls == []
        assert world.state(case.invoice) == [case.held]


def test_a_release_names_one_hold_and_the_next_guard_still_holds(world: World) -> None:
    """Held for its amount, then a twin appears: naming it releases the amount, and the
    duplicate month holds it; naming it again releases the month, and the amount holds
    it again. Each word releases the hold it names, never the next one."""
    case = unusual_amount(world, "failed")
    provider = FakeProvider()
    world.now(provider, command=Command.RETRY_FAILED)
    assert world.state(1) == [("NEEDS_OPERATOR", "amount_anomaly")]
    world.edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
        "updated_at) VALUES (2, 1, 100, 'EUR', '2026-11-30', 'x', 'x')"
    )
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(case.invoice,))
    assert world.state(1) == [("NEEDS_OPERATOR", "duplicate_period")]
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(case.invoice,))
    assert world.state(1) == [("NEEDS_OPERATOR", "amount_anomaly")]
    assert provider.calls == []


def test_cards_that_said_never_handed_back_by_a_breaker_are_held_for_their_customers(
    world: World,
) -> None:
    """A tripped breaker hands back every first-charge decline of its pass, hard ones
    too. When they are all hard, the next pass's second walk still runs, and holds
    them for their customers: none is left PENDING, unjudged, pass after pass."""
    world.make(*[SeedInvoice(i, i, 1000, "EUR", NOV) for i in range(1, 7)])
    notices = "SELECT status, count(*) FROM notification WHERE kind <> 'run_summary' GROUP BY 1"
    lost_cards = FakeProvider(default=HARD)
    tripped = world.before(lost_cards, limits=RunLimits(breaker_rate=0.5, breaker_window=10))
    assert tripped.status is RunStatus.STOPPED_BREAKER
    assert world.sql("SELECT DISTINCT status FROM invoice") == [("PENDING",)]
    assert world.sql(notices) == [("withdrawn", 6)]
    assert world.sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'declined_hard'") == [
        (6,)
    ]
    provider = FakeProvider()
    result = world.now(provider)
    assert provider.calls == []
    assert world.sql("SELECT DISTINCT status, failure_code FROM invoice") == [
        ("AWAITING_CUSTOMER", "hard_decline")
    ]
    assert (result.counts.awaiting_customer, result.counts.operator_items) == (6, [])
    # the notices the trip withdrew go out after all: the card did say never
    assert world.sql(notices) == [("pending", 6)]


def test_a_word_on_a_twin_does_not_release_a_charge_for_the_month_it_was_not_shown(
    world: World,
) -> None:
    """Twins held for one month; an operator releases the first, which is paid. The
    second's hold then says that a charge by the first paid the month, without its key.
    Naming the second is a word on that hold, not on the charge itself: it is held
    again, for the money, with the charge's key; only a word on that hold charges the
    month twice."""
    duplicate_by_rows(world, "failed")
    provider = FakeProvider()
    world.now(provider, command=Command.RETRY_FAILED)
    world.now(provider)
    assert world.state(1) == world.state(2) == [("NEEDS_OPERATOR", "duplicate_period")]
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    assert world.state(1) == [("PAID", None)]
    [(reworded,)] = world.sql("SELECT failure_detail FROM invoice WHERE id = 2")
    assert reworded.startswith("a charge for customer 1's month of 2026-11, by invoice 1,")
    assert provider.charged_keys[0] not in reworded
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert [invoice for invoice, _ in provider.calls] == [1]
    assert world.state(2) == [("NEEDS_OPERATOR", "duplicate_period")]
    [(detail,)] = world.sql("SELECT failure_detail FROM invoice WHERE id = 2")
    assert provider.charged_keys[0] in detail
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert [invoice for invoice, _ in provider.calls] == [1, 2]


def test_a_charge_named_in_a_hold_for_something_else_still_holds_the_month(
    world: World,
) -> None:
    """Only a hold for the month releases the charges it named: an invoice held for
    another reason, whose text happens to quote the key of a charge for its month
    (written by hand, say), named by an operator, is held for the month (by the
    money alone: the invoice that was charged has been deleted since)."""
    duplicate_by_rows(world, "failed")
    provider = FakeProvider()
    world.now(provider, command=Command.RETRY_FAILED)
    world.now(provider)
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    [key] = provider.charged_keys
    world.edit("DELETE FROM invoice WHERE id = 1")  # its charge still bills the month
    world.edit(
        "UPDATE invoice SET status = 'NEEDS_OPERATOR', failure_code = 'malformed', "
        "failure_detail = ? WHERE id = 2",
        f"checked by hand against {key}",
    )
    world.now(provider, command=Command.RETRY_FAILED, invoice_ids=(2,))
    assert [invoice for invoice, _ in provider.calls] == [1]
    assert world.state(2) == [("NEEDS_OPERATOR", "duplicate_period")]
