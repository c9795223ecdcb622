"""The decline-rate breaker, sound: a minority of declining customers never stops billing
for everyone; a trip hands back every first-charge decline of its pass, answers that
came after the window filled included, with no dunning step and no notice; a card
that said never is not charged again. And a cap reserves a key's amount once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import ledger
from tests.fakes import CHARGED, DECLINED, HARD, LOST_REQUEST, FakeProvider

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
WINDOW = RunLimits(breaker_rate=0.5, breaker_window=100)


def hours(first: int) -> list[datetime]:
    """Hourly instants on the first of the month, from `first` o'clock UTC."""
    return [datetime.fromisoformat(f"2026-12-01T{h:02d}:00:00+00:00") for h in range(first, 24)]


def test_a_minority_that_declines_first_never_trips_the_breaker(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """The lowest 40% of ids decline: the breaker judges a sample spread over every due
    invoice, not the first hundred, and the pass completes on the first try."""
    make(*[(i, 1000, "EUR") for i in range(1, 2001)])
    provider = FakeProvider(script={i: [DECLINED] for i in range(1, 801)})
    result = bill(provider, limits=WINDOW)
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert sql("SELECT status, count(*) FROM invoice GROUP BY 1") == [
        ("FAILED", 800),
        ("PAID", 1200),
    ]


@pytest.mark.parametrize(
    "other",
    [
        # next month's invoices written already: the highest ids, not due
        [SeedInvoice(i, i - 2000, 1000, "EUR", date(2027, 1, 1)) for i in range(2001, 4001)],
        # one invoice of an old month, far below this month's ids, due too
        [SeedInvoice(-(10**6), 2001, 1000, "EUR", date(2026, 10, 1))],
    ],
    ids=["next month above", "an old month far below"],
)
def test_a_minority_that_declines_first_never_trips_the_breaker_whatever_the_ids_around(
    make: Callable[..., Path], bill: Bill, sql: Sql, other: list[SeedInvoice]
) -> None:
    """The same, with other invoices' ids around the month's: the sample is spread over
    the due invoices, not over ids none of them has, so it is neither cut short and
    filled up from the lowest ids, nor mostly one invoice."""
    make(*[(i, 1000, "EUR") for i in range(1, 2001)], *other)
    provider = FakeProvider(script={i: [DECLINED] for i in range(1, 801)})
    result = bill(provider, limits=WINDOW)
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert sql("SELECT count(*) FROM invoice WHERE id BETWEEN 1 AND 2000 GROUP BY status") == [
        (800,),
        (1200,),
    ]


def test_after_a_trip_the_next_pass_completes_and_charges_what_was_handed_back(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """A window that holds every invoice judges them in id order, and the lowest ids
    decline: the first pass trips; the next judges its fresh first charges, which pass,
    then charges the handed-back ones, uncounted, and tells each customer once."""
    make(*[(i, 1000, "EUR") for i in range(1, 101)])
    provider = FakeProvider(script={i: [DECLINED] for i in range(1, 31)})
    limits = RunLimits(breaker_rate=0.2, breaker_window=100)
    statuses = []
    for _ in range(3):
        result = bill(provider, limits=limits)
        statuses.append(result.status)
        if result.status is RunStatus.COMPLETED:
            break
    assert statuses == [RunStatus.STOPPED_BREAKER, RunStatus.COMPLETED]
    assert sql("SELECT status, decline_count, count(*) FROM invoice GROUP BY 1, 2") == [
        ("FAILED", 1, 30),
        ("PAID", 0, 70),
    ]
    # the handed-back ones were tried once more, after the fresh ones, and told once
    declined_keys = [key for invoice_id, key in provider.calls if invoice_id <= 30]
    assert len(declined_keys) == 21 + 30
    assert sql(
        "SELECT kind, status, count(*) FROM notification WHERE kind = 'payment_failed' "
        "GROUP BY 1, 2 ORDER BY 2"
    ) == [("payment_failed", "pending", 30), ("payment_failed", "withdrawn", 21)]


def test_a_pass_that_trips_again_never_touches_what_it_handed_back(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """When the provider itself is wrong, every pass trips on fresh invoices: the cards
    handed back by earlier trips are not charged hour after hour meanwhile."""
    make(*[(i, 1000, "EUR") for i in range(1, 41)])
    provider = FakeProvider(default=DECLINED)
    limits = RunLimits(breaker_rate=0.5, breaker_window=10)
    first = bill(provider, limits=limits)
    tried = {invoice_id for invoice_id, _ in provider.calls}
    second = bill(provider, limits=limits)
    assert first.status is second.status is RunStatus.STOPPED_BREAKER
    again = [invoice_id for invoice_id, _ in provider.calls[len(tried) :]]
    assert not set(again) & tried
    assert sql("SELECT DISTINCT status, decline_count FROM invoice") == [("PENDING", 0)]


def test_a_card_that_said_never_is_not_charged_again_after_a_trip(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """lost_card in the tripped window: handed back without a notice; the next pass
    holds it for the customer without calling the provider, and tells them then."""
    make(*[(i, 1000, "EUR") for i in range(1, 41)])
    provider = FakeProvider(script={i: [HARD] for i in range(1, 7)})
    limits = RunLimits(breaker_rate=0.1, breaker_window=50)  # every invoice, in id order
    first = bill(provider, limits=limits)
    assert first.status is RunStatus.STOPPED_BREAKER
    assert (first.counts.handed_back, first.counts.awaiting_customer) == (6, 0)
    assert sql(
        "SELECT count(*) FROM notification WHERE status = 'pending' AND kind <> 'run_summary'"
    ) == [(0,)]
    charged_once = len(provider.calls)
    second = bill(provider, limits=limits)
    assert second.status is RunStatus.COMPLETED
    # they wait for their customers, not for an operator: nothing for a person, exit 0
    assert (second.counts.awaiting_customer, second.counts.needs_operator) == (6, 0)
    assert not second.needs_operator
    # counted as declines, their amounts beside them: the summary's lines agree
    assert second.counts.declines == 6
    assert [(r.count, r.minor) for r in second.counts.declined_totals.rows()] == [(6, 6000)]
    hard_calls = [invoice_id for invoice_id, _ in provider.calls if invoice_id <= 6]
    assert len(hard_calls) == charged_once == 6  # never a second time
    assert sql("SELECT DISTINCT status, failure_code FROM invoice WHERE id <= 6") == [
        ("AWAITING_CUSTOMER", "hard_decline")
    ]
    assert sql(
        "SELECT kind, status, count(*) FROM notification WHERE kind = 'action_required' "
        "GROUP BY 1, 2"
    ) == [("action_required", "pending", 6)]


@dataclass
class Together:
    """A provider whose first `parties` calls wait until all of them are in flight, so
    that answers arrive after the breaker's window filled; later calls go straight on."""

    inner: FakeProvider
    parties: int
    requests_per_charge: int = 1

    def __post_init__(self) -> None:
        self._barrier = threading.Barrier(self.parties, timeout=10)
        self._entered = 0
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return self.inner.description

    @property
    def waits_on_io(self) -> bool:
        return True

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        with self._lock:
            self._entered += 1
            first = self._entered <= self.parties
        if first:
            self._barrier.wait()
        return self.inner.charge(invoice, idempotency_key)

    def lookup(
        self, invoice: Invoice, idempotency_key: str, *, since: datetime, reference: str | None
    ) -> Answer | None:
        return self.inner.lookup(invoice, idempotency_key, since=since, reference=reference)


def test_declines_answered_after_the_window_filled_are_handed_back_too(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 21)])
    inner = FakeProvider(default=DECLINED, io_bound=True)
    limits = RunLimits(breaker_rate=0.75, breaker_window=4)  # trips on the 4th of 4
    result = bill(Together(inner, 6), concurrency=6, limits=limits)
    assert result.status is RunStatus.STOPPED_BREAKER
    sent = len(inner.calls)
    assert sent >= 6  # at least two answered after the window filled
    # what was handed back is no decline of this pass: counted apart, with no total
    counts = result.counts
    assert (counts.handed_back, counts.declined, counts.declines) == (sent, 0, 0)
    assert counts.declined_totals.rows() == []
    assert sql("SELECT DISTINCT status, decline_count, next_retry_on FROM invoice") == [
        ("PENDING", 0, None)
    ]
    assert sql(
        "SELECT status, count(*) FROM notification WHERE kind <> 'run_summary' GROUP BY 1"
    ) == [("withdrawn", sent)]


def test_a_trip_says_what_it_saw_and_what_to_do(make: Callable[..., Path], bill: Bill) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 31)])
    script = {i: [HARD] for i in range(1, 3)}
    limits = RunLimits(breaker_rate=0.1, breaker_window=40)  # every invoice, in id order
    result = bill(FakeProvider(default=DECLINED, script=script), limits=limits)
    reason = result.stop_reason or ""
    assert "5 of the first 5 charges declined (insufficient_funds 3, lost_card 2)" in reason
    assert "--breaker-rate" in reason


def test_a_replayed_key_is_reserved_against_the_cap_once(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """Invoice 1's request is lost within the pass; the end-of-pass replay sends the
    same key: what the cap counts is what may have moved, once."""
    make(*[(i, 5000, "EUR") for i in range(1, 5)])
    provider = FakeProvider(script={1: [LOST_REQUEST] * 4 + [CHARGED]})
    result = bill(provider, limits=RunLimits(max_total={Currency("EUR"): 20000}))
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert sql("SELECT DISTINCT status FROM invoice") == [("PAID",)]
    assert len(provider.charged_keys) == 4


def test_a_cap_stop_says_what_may_have_moved(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 5000, "EUR") for i in range(1, 6)])
    provider = FakeProvider(script={1: [LOST_REQUEST] * 4 + [CHARGED]})
    result = bill(provider, limits=RunLimits(max_total={Currency("EUR"): 15000}))
    assert result.status is RunStatus.STOPPED_CAP
    # 100.00 charged, 50.00 in doubt (its request was lost, and not yet replayed)
    assert "EUR 150.00 charged or in doubt so far" in (result.stop_reason or "")
    assert len(provider.charged_keys) == 2
    assert sql("SELECT invoice_id FROM payment_attempt WHERE finished_at IS NULL") == [(1,)]


def test_breaker_windows_count_fresh_first_charges_only(
    make: Callable[..., Path], bill: Bill
) -> None:
    """Nothing else trips it: no window, no trip, however the pass ends."""
    make(*[(i, 1000, "EUR") for i in range(1, 5)])
    result = bill(FakeProvider(default=DECLINED), as_of=date(2026, 12, 1))
    assert result.status is RunStatus.COMPLETED  # 4 of 4, but the window is 100


def test_the_sample_is_the_whole_window_whatever_the_batch_size(
    make: Callable[..., Path], bill: Bill
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 1001)])
    provider = FakeProvider(script={i: [DECLINED] for i in range(1, 401)})
    result = bill(provider, limits=WINDOW, batch_size=10)
    assert result.status is RunStatus.COMPLETED, result.stop_reason


def test_after_a_pass_the_provider_got_wrong_the_next_samples_fresh_invoices(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """A pass trips on a provider wrong for an hour and hands its sample back; the next
    one samples fresh first charges, not what was handed back, and completes."""
    make(*[(i, 1000, "EUR") for i in range(1, 1001)])
    wrong = bill(FakeProvider(default=DECLINED), limits=WINDOW)
    assert wrong.status is RunStatus.STOPPED_BREAKER
    provider = FakeProvider(script={i: [DECLINED] for i in range(1, 401)})
    result = bill(provider, limits=WINDOW)
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PENDING'") == [(0,)]


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "killed after the trip"])
def test_a_first_charge_of_a_tripped_pass_that_declines_when_replayed_is_handed_back(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None], killed: bool
) -> None:
    """Invoice 1's first charge is lost in a pass the breaker trips, and cannot be looked
    up: it stays open. The provider is still wrong in the next pass, whose replay finds
    nothing, sends the key again and is declined. That is a first-charge decline of
    the tripped pass, answered late: handed back like the others, with no dunning step
    and no notice, not a retry scheduled and its customer told. So too when the pass
    was killed after its trip (the next pass finds it crashed, not stopped_breaker:
    the declines it handed back say it tripped)."""
    make(*[(i, 1000, "EUR") for i in range(1, 21)])
    limits = RunLimits(breaker_rate=0.25, breaker_window=20)  # every invoice, in id order
    lost = FakeProvider(default=DECLINED, script={1: [LOST_REQUEST]}, can_lookup=False)
    first = bill(lost, limits=limits, outage_threshold=100)
    assert first.status is RunStatus.STOPPED_BREAKER
    if killed:  # as the next pass's take-over records a pass that died
        edit("UPDATE billing_run SET status = 'crashed', stop_reason = 'killed' WHERE id = 1")
    assert sql("SELECT invoice_id FROM payment_attempt WHERE finished_at IS NULL") == [(1,)]
    still_wrong = FakeProvider(default=DECLINED)
    second = bill(still_wrong, limits=limits)
    assert [invoice for invoice, _ in still_wrong.calls][:1] == [1]  # the replay, sent again
    assert second.counts.declined == 0
    assert sql("SELECT status, decline_count, next_retry_on FROM invoice WHERE id = 1") == [
        ("PENDING", 0, None)
    ]
    assert sql(
        "SELECT n.status FROM notification n JOIN payment_attempt a ON a.id = n.attempt_id "
        "WHERE a.invoice_id = 1"
    ) == [("withdrawn",)]


EUR_19 = ("EUR", 19, 19000)
USD_1 = ("USD", 1, 777)


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "killed after the trip"])
@pytest.mark.parametrize(
    ("answer", "declines", "declined", "paid"),
    [(DECLINED, 0, [], [EUR_19, USD_1]), (HARD, 1, [USD_1], [EUR_19])],
    ids=["declined, then charged", "a card that said never"],
)
def test_a_decline_handed_back_late_leaves_the_tally_of_its_pass(
    make: Callable[..., Path],
    bill: Bill,
    edit: Callable[..., None],
    killed: bool,
    answer: str,
    declines: int,
    declined: list[tuple[str, int, int]],
    paid: list[tuple[str, int, int]],
) -> None:
    """As above, with invoice 1 in USD and the next pass charging the others: the replay's
    decline, handed back late, leaves the pass's declines and declined amounts and is
    counted as handed back. Invoice 1, PENDING again, comes after the fresh invoices: a
    soft decline is charged again, and paid; a card that said never is not, and is
    counted once, as awaiting its customer, with its amount once."""
    make((1, 777, "USD"), *[(i, 1000, "EUR") for i in range(2, 21)])
    limits = RunLimits(breaker_rate=0.25, breaker_window=20)
    lost = FakeProvider(default=DECLINED, script={1: [LOST_REQUEST]}, can_lookup=False)
    assert bill(lost, limits=limits, outage_threshold=100).status is RunStatus.STOPPED_BREAKER
    if killed:
        edit("UPDATE billing_run SET status = 'crashed', stop_reason = 'killed' WHERE id = 1")
    second = bill(FakeProvider(script={1: [answer, CHARGED]}), limits=limits)
    counts = second.counts
    assert (counts.declines, counts.handed_back, counts.paid) == (declines, 1, 20 - declines)
    assert [(t.currency, t.count, t.minor) for t in counts.declined_totals.rows()] == declined
    assert [(t.currency, t.count, t.minor) for t in counts.paid_totals.rows()] == paid


def test_a_sampled_invoice_made_to_look_handed_back_meanwhile_waits_for_the_second_walk(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """The breaker's sample of six is invoices 1 and 3, claimed one batch at a time. While
    invoice 1 is charged, invoice 3's ledger is edited to show a first charge a breaker
    handed back: when its turn in the sample comes, it waits, as bill's first walk leaves
    every handed-back invoice, and is charged after the fresh ones."""

    def hand_back_3(invoice_id: int) -> None:
        if invoice_id == 1:
            edit(
                "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, "
                "idempotency_key, run_id, command, amount, currency, from_status, outcome, "
                "started_at, finished_at) SELECT 3, 3, 1, 'by-hand', max(id), 'bill', 1000, "
                "'EUR', 'PENDING', 'declined', '2026-11-01T00:00:00+00:00', "
                "'2026-11-01T00:00:00+00:00' FROM billing_run"
            )

    make(*[(i, 1000, "EUR") for i in range(1, 7)])
    provider = FakeProvider(after_call=hand_back_3)
    limits = RunLimits(breaker_rate=0.5, breaker_window=2)  # a sample of two: 1 and 3
    result = bill(provider, limits=limits, batch_size=1)
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert [invoice for invoice, _ in provider.calls] == [1, 2, 4, 5, 6, 3]
    assert sql("SELECT DISTINCT status FROM invoice") == [("PAID",)]


def test_the_ledger_hands_back_first_charge_declines_once_and_says_what_they_were(
    make: Callable[..., Path], bill: Bill, db_path: Path
) -> None:
    """Asked to hand back a pass's invoices, the ledger moves the first-charge declines
    alone (not a payment), and says what each was: status, currency and amount, for the
    pass's tally. Asked again, it finds nothing left to hand back."""
    make((1, 777, "USD"), (2, 1000, "EUR"), (3, 500, "EUR"))
    first = bill(FakeProvider(script={1: [DECLINED], 2: [HARD]}))
    assert (first.counts.declined, first.counts.awaiting_customer, first.counts.paid) == (1, 1, 1)
    now = datetime.fromisoformat("2026-12-01T06:00:00+00:00")
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            handed = ledger.hand_back_declines(conn, run_id=1, now=now, invoice_ids=[1, 2, 3])
            again = ledger.hand_back_declines(conn, run_id=1, now=now, invoice_ids=[1, 2, 3])
        statuses = conn.execute("SELECT id, status FROM invoice ORDER BY id").fetchall()
    finally:
        conn.close()
    assert sorted(handed) == [("AWAITING_CUSTOMER", "EUR", 1000), ("FAILED", "USD", 777)]
    assert again == []
    assert statuses == [(1, "PENDING"), (2, "PENDING"), (3, "PAID")]
