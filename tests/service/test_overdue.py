"""An attempt whose outcome no look-up settles is never silent: once enough passes have
failed to settle it and it is old enough, every pass says so and exits 1, and the
attempt stays open, its key looked up again by every pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import PassResult
from antaeus_cli.cli.boundary import exit_code_for_pass
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.domain.overdue import LOOKUP_PASSES, UNKNOWN_AGE
from antaeus_cli.reports import build_report
from antaeus_cli.store.database import Store
from tests.fakes import LOST_REQUEST, LOST_RESPONSE, Crash, FakeProvider, FixedClock

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def blind(**script: Any) -> FakeProvider:
    """A provider that charges, loses the answer, and cannot look a charge up."""
    return FakeProvider(script={1: [LOST_RESPONSE]}, can_lookup=False, **script)


def summaries(sql: Sql) -> list[dict[str, Any]]:
    return [
        json.loads(body)
        for (body,) in sql("SELECT body FROM notification WHERE kind = 'run_summary' ORDER BY id")
    ]


def test_an_attempt_no_look_up_settles_needs_an_operator_after_three_passes_and_six_hours(
    make: Callable[..., Path], bill: Bill, sql: Sql, clock: FixedClock, db_path: Path
) -> None:
    make((1, 1234, "EUR"))
    provider = blind()
    hourly = []
    for _ in range(LOOKUP_PASSES + 1):  # the charge's own pass, then hourly passes
        hourly.append(bill(provider))
        clock.advance(hours=1)
    # Three passes and more have looked the key up, but it was sent only 3 hours ago.
    assert [exit_code_for_pass(r) for r in hourly] == [ExitCode.OK] * 4
    assert [r.overdue.total for r in hourly] == [0, 0, 0, 0]
    assert sql("SELECT lookup_passes FROM payment_attempt") == [(4,)]
    assert summaries(sql) == []

    clock.advance(hours=UNKNOWN_AGE.total_seconds() / 3600 - 4)  # 6 hours since it was sent
    late = bill(provider)
    assert exit_code_for_pass(late) is ExitCode.NEEDS_OPERATOR
    assert late.counts.needs_operator == 0  # no invoice was held: the attempt is overdue
    (attempt,) = late.overdue.listed
    ((key, started),) = sql("SELECT idempotency_key, started_at FROM payment_attempt")
    assert (attempt.key, attempt.amount, attempt.currency) == (key, 1234, "EUR")
    assert (attempt.started_at, attempt.lookup_passes) == (started, 5)

    # Never settled as failed: the attempt stays open and its invoice PROCESSING.
    assert sql("SELECT outcome, finished_at FROM payment_attempt") == [("unknown", None)]
    assert sql("SELECT status FROM invoice") == [("PROCESSING",)]
    (summary,) = summaries(sql)
    assert summary["overdue_total"] == 1
    (told,) = summary["overdue"]
    assert (told["idempotency_key"], told["amount_formatted"]) == (key, "EUR 12.34")
    assert (told["started_at"], told["lookup_passes"]) == (started, 5)
    assert "settled by hand" in told["action"]

    store = Store.open(db_path)
    try:
        report = build_report(store, now=clock())
    finally:
        store.close()
    assert report.overdue_total == 1
    assert report.overdue == [told]


def test_an_overdue_attempt_is_looked_up_by_every_pass_until_it_settles(
    make: Callable[..., Path], bill: Bill, sql: Sql, clock: FixedClock
) -> None:
    make((1, 100, "EUR"))
    provider = blind()
    for _ in range(LOOKUP_PASSES):
        bill(provider)
        clock.advance(hours=3)
    assert bill(provider).overdue.total == 1
    looked_up = len(provider.lookups)
    assert bill(provider).overdue.total == 1  # said again, and looked up again
    assert len(provider.lookups) > looked_up
    provider.can_lookup = True  # the provider answers at last: it had charged
    settled = bill(provider)
    assert exit_code_for_pass(settled) is ExitCode.OK
    assert settled.overdue.total == 0
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert provider.charges_for(1) == [provider.calls[0][1]]


def test_a_pass_counts_once_however_often_its_sweeps_look_the_key_up(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1}, can_lookup=False)
    with pytest.raises(Crash):
        bill(provider)
    assert sql("SELECT lookup_passes FROM payment_attempt") == [(0,)]
    bill(provider, sweeps=3)  # the reconcile, then a sweep: two look-ups
    assert len(provider.lookups) == 2
    assert sql("SELECT lookup_passes FROM payment_attempt") == [(1,)]


def test_an_attempt_a_look_up_settles_is_never_overdue(
    make: Callable[..., Path], bill: Bill, sql: Sql, clock: FixedClock
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider(script={1: [LOST_RESPONSE]})  # found by its look-up
    first = bill(provider)
    clock.advance(hours=24)
    assert (first.overdue.total, bill(provider).overdue.total) == (0, 0)
    assert sql("SELECT lookup_passes, finished_at IS NOT NULL FROM payment_attempt") == [
        (0, 1),
        (0, 1),
    ]


@pytest.mark.parametrize("charged", [True, False])
def test_an_overdue_attempt_settled_by_hand_as_the_readme_says_needs_nobody_any_more(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    clock: FixedClock,
    edit: Callable[..., None],
    charged: bool,
) -> None:
    """The operator found the charge at the provider (or found none), and wrote it down
    with the statements the README gives: the next pass exits 0, and an invoice that
    was never charged is charged under a new key."""
    make((1, 100, "EUR"))
    provider = blind() if charged else FakeProvider(script={1: [LOST_REQUEST]}, can_lookup=False)
    for _ in range(LOOKUP_PASSES):
        bill(provider)
        clock.advance(hours=3)
    assert bill(provider).overdue.total == 1
    stamp = clock().isoformat()
    if charged:
        edit(
            "UPDATE payment_attempt SET outcome = 'charged', finished_at = ?, "
            "error = 'settled by hand: charged, seen at the provider' WHERE id = 1",
            stamp,
        )
        edit(
            "INSERT INTO collected (currency, count, amount) VALUES ('EUR', 1, 100) "
            "ON CONFLICT (currency) DO UPDATE SET count = count + 1, amount = amount + 100"
        )
        edit(
            "UPDATE invoice SET status = 'PAID', paid_at = ?, updated_at = ? WHERE id = 1",
            stamp,
            stamp,
        )
    else:
        edit(
            "UPDATE payment_attempt SET outcome = 'lapsed', finished_at = ?, "
            "error = 'settled by hand: no charge under the key at the provider' WHERE id = 1",
            stamp,
        )
        edit(
            "UPDATE invoice SET status = (SELECT from_status FROM payment_attempt WHERE id = 1), "
            "updated_at = ? WHERE id = 1",
            stamp,
        )
    provider.script[1] = ["charged"]
    after = bill(provider)
    assert exit_code_for_pass(after) is ExitCode.OK
    assert (after.overdue.total, after.unresolved) == (0, 0)
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert len(provider.charges_for(1)) == 1
    expected = [(1, "charged")] if charged else [(1, "lapsed"), (2, "charged")]
    assert sql("SELECT attempt_no, outcome FROM payment_attempt ORDER BY id") == expected
    assert sql("SELECT count, amount FROM collected") == [(1, 100)]
    # the customer who paid is told, once: by hand or by a pass, the charge's receipt
    assert sql(
        "SELECT a.attempt_no, n.status FROM notification n JOIN payment_attempt a "
        "ON a.id = n.attempt_id WHERE n.kind = 'receipt'"
    ) == [(1 if charged else 2, "pending")]


def test_a_count_edited_to_the_64_bit_limit_holds_only_itself(
    make: Callable[..., Path], bill: Bill, sql: Sql, clock: FixedClock, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider(script={1: [LOST_RESPONSE], 2: [LOST_RESPONSE]}, can_lookup=False)
    bill(provider)
    edit("UPDATE payment_attempt SET lookup_passes = ? WHERE invoice_id = 1", 2**63 - 1)
    clock.advance(hours=6)
    late = bill(provider)
    assert [a.invoice_id for a in late.overdue.listed] == [1]  # it cannot grow: past the bar
    assert sql("SELECT invoice_id, lookup_passes FROM payment_attempt ORDER BY id") == [
        (1, 2**63 - 1),
        (2, 2),
    ]


def test_only_a_replay_counts_however_its_batch_is_written(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """A first charge whose answer was lost is not a look-up pass, even when a hand edit
    made its batch be written one row at a time."""
    make((1, 100, "EUR"), (2, 100, "EUR"))

    def edited(invoice_id: int) -> None:
        if invoice_id == 1:
            edit("UPDATE invoice SET amount = 999 WHERE id = 1")

    provider = FakeProvider(script={2: [LOST_REQUEST]}, can_lookup=False, after_call=edited)
    bill(provider, sweeps=0, concurrency=1)
    assert sql("SELECT invoice_id, outcome, lookup_passes FROM payment_attempt ORDER BY id") == [
        (1, "charged", 0),
        (2, "unknown", 0),
    ]
