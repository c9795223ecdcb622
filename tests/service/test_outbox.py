"""The outbox: every committed outcome that a customer is told of has exactly one
notice, written in the transaction that records it, and nothing else has one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.notices import NoticeKind, notice_key
from antaeus_cli.store.database import Store
from antaeus_cli.store.deliveries import claim, peek
from tests.fakes import (
    CHARGED,
    DECLINED,
    HARD,
    LOST_RESPONSE,
    NEEDS_CUSTOMER,
    NOT_FOUND,
    Crash,
    FakeProvider,
    FixedClock,
    alive,
)

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def notices(sql: Sql) -> list[tuple[Any, ...]]:
    return sql(
        "SELECT a.invoice_id, n.kind, n.recipient, n.next_retry_on, n.status "
        "FROM notification n JOIN payment_attempt a ON a.id = n.attempt_id ORDER BY a.invoice_id"
    )


def test_each_outcome_tells_its_customer_once(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 2000, "USD"), (3, 3000, "DKK"), (4, 400, "SEK"), (5, 500, "GBP"))
    provider = FakeProvider(script={2: [DECLINED], 3: [HARD], 4: [NEEDS_CUSTOMER], 5: [NOT_FOUND]})
    bill(provider)
    assert notices(sql) == [
        (1, "receipt", "c1@example.com", None, "pending"),
        (2, "payment_failed", "c2@example.com", "2026-12-02", "pending"),
        (3, "action_required", "c3@example.com", None, "pending"),
        (4, "action_required", "c4@example.com", None, "pending"),
    ]
    # Invoice 5 went to an operator: its customer is told nothing; the operator is.
    assert sql("SELECT kind, attempt_id FROM notification WHERE attempt_id IS NULL") == [
        ("run_summary", None)
    ]


def test_the_dedupe_key_is_the_attempt_key_and_the_kind(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """The SQL that builds the key (store.outbox) and domain.notices.notice_key agree."""
    make((1, 1000, "EUR"), (2, 1000, "EUR"))
    bill(FakeProvider(script={2: [DECLINED]}))
    rows = sql(
        "SELECT n.dedupe_key, a.idempotency_key, n.kind FROM notification n "
        "JOIN payment_attempt a ON a.id = n.attempt_id"
    )
    assert len(rows) == 2
    for dedupe_key, attempt_key, kind in rows:
        assert dedupe_key == notice_key(attempt_key, NoticeKind(kind))


def test_a_large_batch_is_told_by_the_set_based_statements(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100 + i, "EUR") for i in range(1, 41)])
    provider = FakeProvider(script={i: [DECLINED] for i in range(21, 41)})
    bill(provider)
    assert sql("SELECT kind, count(*) FROM notification GROUP BY kind ORDER BY kind") == [
        ("payment_failed", 20),
        ("receipt", 20),
    ]
    assert sql("SELECT count(DISTINCT attempt_id) FROM notification") == [(40,)]


def test_the_last_dunning_step_sends_the_final_notice(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"))
    provider = FakeProvider(default=DECLINED)
    schedule = DunningSchedule((1,))
    bill(provider, schedule=schedule)
    bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 2), schedule=schedule)
    assert [row[1:4] for row in notices(sql)] == [
        ("payment_failed", "c1@example.com", "2026-12-02"),
        ("final_notice", "c1@example.com", None),
    ]


def test_an_answer_still_unknown_tells_nobody_until_it_is_known(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"))
    provider = FakeProvider(script={1: [LOST_RESPONSE]}, can_lookup=False)
    bill(provider, sweeps=0)
    assert notices(sql) == []
    provider.can_lookup = True
    bill(provider)  # the replay finds the charge: now it is a fact
    assert [row[1] for row in notices(sql)] == ["receipt"]


def test_an_outcome_rolled_back_has_no_notice(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 1000, "EUR"))
    provider = FakeProvider(crash_after_booking={2})
    with pytest.raises(Crash):
        bill(provider)
    # Neither answer was committed (the batch commits together): no notice at all.
    assert sql("SELECT count(*) FROM notification") == [(0,)]
    bill(provider)  # the replays settle both, once
    assert [row[:2] for row in notices(sql)] == [(1, "receipt"), (2, "receipt")]


def test_a_charge_whose_invoice_was_edited_is_still_receipted_with_the_ledger_figures(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 11)])

    def meanwhile(invoice_id: int) -> None:
        if invoice_id == 5:
            edit("UPDATE invoice SET amount = 999 WHERE id = 5")

    bill(FakeProvider(after_call=meanwhile))
    # Invoice 5 went to an operator (edited in flight), but its customer was charged.
    rows = sql(
        "SELECT a.amount FROM notification n JOIN payment_attempt a ON a.id = n.attempt_id "
        "WHERE a.invoice_id = 5 AND n.kind = 'receipt'"
    )
    assert rows == [(100,)]
    assert sql("SELECT count(*) FROM notification WHERE kind = 'receipt'") == [(10,)]


def test_a_charge_whose_invoice_was_deleted_is_receipted(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    edit("DELETE FROM invoice WHERE id = 1")
    bill(provider)
    assert sql(
        "SELECT a.invoice_id, n.kind FROM notification n "
        "JOIN payment_attempt a ON a.id = n.attempt_id ORDER BY 1"
    ) == [(1, "receipt"), (2, "receipt")]


def test_a_customer_without_an_address_gets_a_notice_without_a_recipient(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"))
    edit("UPDATE customer SET email = NULL")
    bill(FakeProvider())
    assert [row[1:3] for row in notices(sql)] == [("receipt", None)]


def test_declines_the_breaker_hands_back_are_withdrawn(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 31)])
    result = bill(
        FakeProvider(default=DECLINED), limits=RunLimits(breaker_rate=0.5, breaker_window=10)
    )
    assert result.status is RunStatus.STOPPED_BREAKER
    assert sql("SELECT kind, status, count(*) FROM notification GROUP BY 1, 2") == [
        ("payment_failed", "withdrawn", 6),
        ("run_summary", "pending", 1),
    ]


def test_a_run_summary_only_for_runs_with_something_to_say(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"))
    bill(FakeProvider())
    assert sql("SELECT count(*) FROM notification WHERE kind = 'run_summary'") == [(0,)]
    edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
        "updated_at) VALUES (2, 1, 100, 'EUR', '2026-11-01', 'x', 'x')"
    )
    bill(FakeProvider(script={2: [NOT_FOUND]}))
    rows = sql("SELECT run_id, body FROM notification WHERE kind = 'run_summary'")
    assert len(rows) == 1
    assert rows[0][0] == 2
    assert '"invoice_id": 2' in rows[0][1]
    assert '"code": "customer_not_found"' in rows[0][1]


def test_a_crashed_run_is_summarised_by_the_pass_that_finds_it(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    bill(provider)
    assert sql(
        "SELECT run_id, json_extract(body, '$.status') FROM notification WHERE kind = 'run_summary'"
    ) == [(1, "crashed")]


def test_notices_wait_for_the_end_of_their_run(
    make: Callable[..., Path], bill: Bill, db_path: Path, clock: FixedClock
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 4)])
    seen: list[int] = []

    def meanwhile(invoice_id: int) -> None:
        if invoice_id == 3:  # invoices 1 and 2 were settled in an earlier batch
            store = Store.open(db_path)
            try:
                with store.reading() as conn:
                    seen.append(peek(conn, now=clock(), limit=10, is_alive=alive)[0])
            finally:
                store.close()

    bill(FakeProvider(after_call=meanwhile), batch_size=1)
    assert seen == [0]
    store = Store.open(db_path)
    try:
        with store.transaction() as conn:
            taken, _ = claim(conn, owner="t", now=clock(), until=clock(), limit=10, is_alive=alive)
    finally:
        store.close()
    assert sorted(n.invoice_id or 0 for n in taken) == [1, 2, 3]


def test_a_notice_reads_its_customer_s_locale_as_it_is_whatever_a_hand_wrote(
    make: Callable[..., Path],
    bill: Bill,
    edit: Callable[..., None],
    db_path: Path,
    clock: FixedClock,
) -> None:
    """A notice carries its customer's locale as it is when the notice is read, not as
    it was at the charge; a value written by hand past the CHECK (text that is not
    UTF-8, text that is no tag, a blob) is read as it is and fails no notice; a run
    summary, which has no customer, has none."""
    make(*[(i, 100, "EUR") for i in range(1, 7)])
    edit("UPDATE customer SET locale = 'de' WHERE id = 2")
    bill(FakeProvider(script={6: [NOT_FOUND]}))  # invoice 6 goes to an operator: a summary
    edit("UPDATE customer SET locale = 'da-DK' WHERE id = 1")
    edit("UPDATE customer SET locale = 'sv-SE' WHERE id = 2")
    edit("PRAGMA ignore_check_constraints = ON")
    edit("UPDATE customer SET locale = CAST(X'FF2D4445' AS TEXT) WHERE id = 3")
    edit("UPDATE customer SET locale = 'no tag; DROP TABLE customer' WHERE id = 4")
    edit("UPDATE customer SET locale = X'00FF' WHERE id = 5")
    store = Store.open(db_path)
    try:
        with store.reading() as conn:
            due, shown = peek(conn, now=clock(), limit=10, is_alive=alive)
        with store.transaction() as conn:
            taken, broken = claim(conn, owner="t", now=clock(), until=clock(), limit=10,
                                  is_alive=alive)  # fmt: skip
    finally:
        store.close()
    assert (due, broken) == (6, [])
    locales = {(n.kind.value, n.invoice_id): n.customer_locale for n in taken}
    locales.pop(("receipt", 5))  # a blob: read, as whatever it reads as
    assert locales == {
        ("receipt", 1): "da-DK",
        ("receipt", 2): "sv-SE",
        ("receipt", 3): "\ufffd-DE",
        ("receipt", 4): "no tag; DROP TABLE customer",
        ("run_summary", None): None,
    }
    assert [n.customer_locale for n in shown] == [n.customer_locale for n in taken]


def test_a_charged_replay_is_receipted_once_whatever_the_sweeps(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(script={1: [LOST_RESPONSE, CHARGED]})
    bill(provider)
    bill(provider)
    assert [row[:2] for row in notices(sql)] == [(1, "receipt")]


def test_a_batch_settled_row_by_row_tells_each_decline_with_its_next_try(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """An edit in flight sends the whole batch through the careful path: its declines
    are told there, as the set-based statements would have told them."""
    make(*[(i, 100, "EUR") for i in range(1, 11)])

    def meanwhile(invoice_id: int) -> None:
        if invoice_id == 5:
            edit("UPDATE invoice SET amount = 999 WHERE id = 5")

    bill(FakeProvider(script={3: [DECLINED], 7: [HARD]}, after_call=meanwhile))
    rows = {row[0]: row[1:4] for row in notices(sql)}
    assert rows[3] == ("payment_failed", "c3@example.com", "2026-12-02")
    assert rows[7] == ("action_required", "c7@example.com", None)
    assert sql("SELECT count(*) FROM notification WHERE kind = 'receipt'") == [(8,)]
