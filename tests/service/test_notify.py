"""`notify`'s delivery against a real SQLite outbox and a hand-written channel."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import PassResult
from antaeus_cli.channels.port import ChannelRefused, Message, Permanent, Transient, Unaddressed
from antaeus_cli.domain.notices import MAX_TRIES, backoff
from antaeus_cli.notify.messages import preview
from antaeus_cli.notify.results import NotifyResult
from antaeus_cli.notify.settings import NotifySettings
from antaeus_cli.store.database import Store
from tests.conftest import Sleeps
from tests.fakes import DECLINED, FakeChannel, FakeProvider, FixedClock, alive, dead, unknown

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


Notify = Callable[..., NotifyResult]


def billed(make: Callable[..., Path], bill: Bill, count: int, **script: Any) -> None:
    make(*[(i, 100 * i, "EUR") for i in range(1, count + 1)])
    bill(FakeProvider(**script))


def statuses(sql: Sql) -> list[tuple[Any, ...]]:
    return sql("SELECT status, count(*) FROM notification GROUP BY status ORDER BY status")


def test_every_pending_notice_is_delivered_once_and_marked(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 5, script={2: [DECLINED]})
    channel = FakeChannel()
    result = notify(channel, batch_size=2)
    assert (result.sent, result.failed, result.skipped, result.stop_reason) == (5, 0, 0, None)
    assert len({m.key for m in channel.delivered}) == 5
    assert statuses(sql) == [("sent", 5)]
    assert channel.closed
    assert notify(FakeChannel()).sent == 0  # nothing is sent twice


def test_what_the_messages_say_comes_from_the_ledger(
    make: Callable[..., Path], bill: Bill, notify: Notify
) -> None:
    billed(make, bill, 2, script={2: [DECLINED]})
    channel = FakeChannel()
    notify(channel)
    receipt, declined = sorted(channel.delivered, key=lambda m: m.kind)[::-1]
    assert receipt.subject == "Receipt for invoice 1: \u20ac1.00"
    assert receipt.recipient == "c1@example.com"
    assert "the card did not have enough funds" in declined.text
    assert "We will try again on December 2, 2026" in declined.text


def test_a_notice_tells_the_day_in_the_customers_zone(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    clock: FixedClock,
    edit: Callable[..., None],
) -> None:
    """Charged at 10:30 UTC on 30 November: already 1 December in Kiritimati, whose
    retry dates are dates there too. A customer without a zone is told the date in the
    company's zone; one whose zone is unknown, the UTC date, saying so."""
    from zoneinfo import ZoneInfo

    make((1, 100, "EUR"), (2, 200, "EUR"), (3, 300, "EUR"), due=date(2026, 11, 30))
    edit("UPDATE customer SET timezone = 'Pacific/Kiritimati' WHERE id = 1")
    clock.now = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    bill(FakeProvider(), as_of=date(2026, 11, 30))
    edit("UPDATE customer SET timezone = 'Mars/Base' WHERE id = 3")  # since
    channel = FakeChannel()
    notify(channel, company_zone=ZoneInfo("Etc/GMT+12"))
    texts = {m.recipient: m.text for m in channel.delivered}
    assert "for invoice 1 on December 1, 2026." in texts["c1@example.com"]
    assert "for invoice 2 on November 29, 2026." in texts["c2@example.com"]  # 22:30 at UTC-12
    assert "for invoice 3 on November 30, 2026 (UTC)." in texts["c3@example.com"]


def test_a_failure_for_now_is_retried_within_the_run(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, sleeps: Sleeps
) -> None:
    billed(make, bill, 1)
    key = sql("SELECT dedupe_key FROM notification")[0][0]
    channel = FakeChannel(failures={key: [Transient("421 busy"), Transient("421 busy")]})
    result = notify(channel)
    assert result.sent == 1
    assert channel.tries == [key, key, key]
    assert len(sleeps.waits) == 2  # waited between tries, and never for real


def test_a_failure_that_outlasts_the_run_is_tried_again_after_a_backoff(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, clock: FixedClock
) -> None:
    billed(make, bill, 1)
    channel = FakeChannel(every=Transient("connection refused"))
    result = notify(channel)
    assert (result.sent, result.deferred) == (0, 1)
    assert sql("SELECT status, tries, last_error, lease_owner FROM notification") == [
        ("pending", 1, "connection refused", None)
    ]
    assert notify(FakeChannel()).sent == 0  # not due yet
    clock.advance(seconds=backoff(1).total_seconds())
    assert notify(FakeChannel()).sent == 1


def test_a_notice_that_keeps_failing_is_failed_after_its_last_try(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, clock: FixedClock
) -> None:
    billed(make, bill, 1)
    for _ in range(MAX_TRIES):
        notify(FakeChannel(every=Transient("timed out")))
        clock.advance(hours=7)
    assert sql("SELECT status, tries FROM notification") == [("failed", MAX_TRIES)]
    assert "gave up after 14 tries: timed out" in sql("SELECT last_error FROM notification")[0][0]


def test_a_permanent_refusal_fails_the_notice_with_its_reason(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 2)
    key = sql("SELECT dedupe_key FROM notification ORDER BY id")[0][0]
    channel = FakeChannel(failures={key: [Permanent("550 no such user")]})
    result = notify(channel)
    assert (result.sent, result.failed) == (1, 1)
    assert [(f.key, f.status, f.reason) for f in result.failures] == [
        (key, "failed", "550 no such user")
    ]
    assert sql("SELECT status, last_error FROM notification ORDER BY id") == [
        ("failed", "550 no such user"),
        ("sent", None),
    ]


def test_a_notice_with_nowhere_to_go_is_skipped(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 1)
    key = sql("SELECT dedupe_key FROM notification")[0][0]
    result = notify(FakeChannel(failures={key: [Unaddressed("no e-mail address")]}))
    assert (result.sent, result.skipped, result.failed) == (0, 1, 0)
    assert sql("SELECT status FROM notification") == [("skipped",)]


def test_a_channel_that_is_down_stops_the_run_and_hands_the_rest_back(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 12)
    result = notify(FakeChannel(every=Transient("connection refused")), outage_after=3)
    assert result.stop_reason is not None
    assert "3 notices in a row failed for now" in result.stop_reason
    assert result.deferred == 3
    # Three wait for their backoff; the nine never tried are due now, their tries unspent.
    assert sql("SELECT tries, lease_owner, count(*) FROM notification GROUP BY 1, 2") == [
        (0, None, 9),
        (1, None, 3),
    ]


def test_a_channel_that_refuses_us_stops_the_run_and_spends_nothing(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 3)
    with pytest.raises(ChannelRefused):
        notify(FakeChannel(every=ChannelRefused("credentials refused")))
    assert sql("SELECT status, tries, lease_owner FROM notification") == [("pending", 0, None)] * 3


def test_a_stop_request_stops_the_run_between_notices(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """The stop event that the CLI's signal handlers set, set here by the channel; the
    real signals, sent to a real `antaeus notify`, are in tests/process."""
    billed(make, bill, 4)
    stop = threading.Event()
    channel = FakeChannel(after=lambda _message: stop.set())
    result = notify(channel, stop=stop)
    assert result.sent == 1
    assert result.stop_reason is not None
    assert statuses(sql) == [("pending", 3), ("sent", 1)]
    assert notify(FakeChannel()).sent == 3


def test_overlapping_runs_never_take_the_same_notice(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 6)
    inner: list[NotifyResult] = []
    second = FakeChannel()

    def overlap(_message: Message) -> None:
        if not inner:  # while the first run holds its lease, a second one runs
            inner.append(notify(second, owner="other"))

    first = FakeChannel(after=overlap)
    outer = notify(first, owner="first", batch_size=3)
    keys = [m.key for m in first.delivered] + [m.key for m in second.delivered]
    assert sorted(keys) == sorted(set(keys))
    assert outer.sent + inner[0].sent == 6
    assert inner[0].sent == 3  # it took the batch the first run had not claimed
    assert statuses(sql) == [("sent", 6)]


def test_a_lease_that_ran_out_lets_another_run_deliver_again_under_the_same_key(
    make: Callable[..., Path], bill: Bill, notify: Notify, db_path: Path, clock: FixedClock
) -> None:
    billed(make, bill, 1)
    from antaeus_cli.store import deliveries

    store = Store.open(db_path)
    try:
        with store.transaction() as conn:  # a run that claimed, then died
            (taken,), _ = deliveries.claim(
                conn,
                owner="dead",
                now=clock(),
                until=clock() + timedelta(minutes=10),
                limit=5,
                is_alive=dead,
            )
    finally:
        store.close()
    assert notify(FakeChannel()).sent == 0
    clock.advance(minutes=10)
    channel = FakeChannel()
    assert notify(channel).sent == 1
    assert channel.delivered[0].key == taken.key


def test_limit_caps_a_run(make: Callable[..., Path], bill: Bill, notify: Notify) -> None:
    billed(make, bill, 5)
    assert notify(FakeChannel(), limit=2, batch_size=10).sent == 2
    assert notify(FakeChannel()).sent == 3


def test_a_row_edited_into_nonsense_is_failed_not_fatal(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, edit: Callable[..., None]
) -> None:
    billed(make, bill, 3)
    edit("UPDATE notification SET created_at = 'yesterday' WHERE id = 2")
    result = notify(FakeChannel())
    assert result.sent == 2
    assert sql(
        "SELECT status, coalesce(last_error, '') LIKE 'its row cannot be read%' FROM notification"
    ) == [
        ("sent", 0),
        ("failed", 1),
        ("sent", 0),
    ]


def test_a_dry_run_shows_what_would_go_and_changes_nothing(
    make: Callable[..., Path], bill: Bill, db_path: Path, sql: Sql, clock: FixedClock
) -> None:
    billed(make, bill, 3)
    store = Store.open(db_path)
    try:
        shown = preview(store, FakeChannel(), NotifySettings(), clock())
    finally:
        store.close()
    assert shown.due == 3
    assert next(n.subject for n in shown.listed) == "Receipt for invoice 1: \u20ac1.00"
    assert statuses(sql) == [("pending", 3)]
    assert sql("SELECT sum(tries) FROM notification") == [(0,)]


def test_the_report_shows_the_outbox_and_who_has_no_address(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    edit: Callable[..., None],
    db_path: Path,
) -> None:
    from antaeus_cli.reports import build_report

    billed(make, bill, 3)
    edit("UPDATE customer SET email = char(9) WHERE id = 3")  # a tab: blank, as notify sees it
    key = sql("SELECT dedupe_key FROM notification ORDER BY id")[0][0]
    notify(FakeChannel(failures={key: [Permanent("550 no such user")]}), limit=2)
    store = Store.open(db_path)
    try:
        report = build_report(store)
    finally:
        store.close()
    assert report.notifications == [
        {"status": "failed", "count": 1},
        {"status": "pending", "count": 1},
        {"status": "sent", "count": 1},
    ]
    assert [(r["dedupe_key"], r["last_error"]) for r in report.notifications_failed] == [
        (key, "550 no such user")
    ]
    assert report.customers_without_email == 1


@pytest.mark.parametrize(
    "key", ["bad\r\nBcc: x@example.com", 'quote"d', "", "x" * 300, "-leading-dash"]
)
def test_a_key_edited_into_a_header_breaker_is_failed_not_sent(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    edit: Callable[..., None],
    key: str,
) -> None:
    billed(make, bill, 2)
    edit("UPDATE notification SET dedupe_key = ? WHERE id = 1", key)
    channel = FakeChannel()
    assert notify(channel).sent == 1
    assert [m.key for m in channel.delivered] == [
        sql("SELECT dedupe_key FROM notification WHERE id = 2")[0][0]
    ]
    assert sql("SELECT status FROM notification WHERE id = 1") == [("failed",)]


def test_text_no_message_can_carry_fails_that_notice_only(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    billed(make, bill, 2)
    key = sql("SELECT dedupe_key FROM notification ORDER BY id")[0][0]
    channel = FakeChannel(failures={key: [ValueError("surrogates not allowed")]})
    result = notify(channel)
    assert (result.sent, result.failed) == (1, 1)
    assert "cannot be sent as it is: surrogates not allowed" in result.failures[0].reason


def test_text_that_is_not_utf8_fails_its_notice_not_the_run(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, edit: Callable[..., None]
) -> None:
    billed(make, bill, 3)
    edit("UPDATE notification SET recipient = CAST(X'ff40782e79' AS TEXT) WHERE id = 2")
    channel = FakeChannel()
    result = notify(channel)
    assert result.sent == 3  # the fake takes any address; the real ones refuse this one
    assert next(m.recipient for m in channel.delivered if "\ufffd" in (m.recipient or ""))


def test_rows_that_cannot_be_read_count_as_failed(
    make: Callable[..., Path], bill: Bill, notify: Notify, edit: Callable[..., None]
) -> None:
    billed(make, bill, 3)
    edit("UPDATE notification SET created_at = 'garbage' WHERE id = 1")
    result = notify(FakeChannel())
    assert (result.sent, result.failed) == (2, 1)
    assert "its row cannot be read" in result.failures[0].reason


def test_a_notice_must_tell_what_its_attempt_did(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, edit: Callable[..., None]
) -> None:
    billed(make, bill, 2, script={2: [DECLINED]})
    declined = sql("SELECT id FROM payment_attempt WHERE outcome = 'declined'")[0][0]
    edit(
        "INSERT INTO notification (dedupe_key, kind, run_id, attempt_id, next_attempt_at, "
        "created_at) VALUES ('forged-receipt', 'receipt', 1, ?, '2026-12-01', '2026-12-01')",
        declined,
    )
    edit(
        "INSERT INTO notification (dedupe_key, kind, run_id, attempt_id, next_attempt_at, "
        "created_at) VALUES ('no-attempt', 'final_notice', 1, 99999, '2026-12-01', '2026-12-01')"
    )
    channel = FakeChannel()
    result = notify(channel)
    assert (
        sorted(m.key for m in channel.delivered if m.key in ("forged-receipt", "no-attempt")) == []
    )
    reasons = sorted(f.reason for f in result.failures)
    assert "a receipt notice for an attempt that ended 'declined'" in reasons[1]
    assert "a final_notice notice for no such attempt" in reasons[0]


def test_a_run_whose_lease_ran_out_sends_nothing_another_run_took_over(
    make: Callable[..., Path], bill: Bill, notify: Notify, clock: FixedClock
) -> None:
    billed(make, bill, 6)
    second = FakeChannel()

    def slow(_message: Message) -> None:
        if not second.tries:  # the first delivery outlasts the lease: another run comes
            clock.advance(seconds=5)
            notify(second, owner="other")

    first = FakeChannel(after=slow)
    notify(first, owner="first", lease=timedelta(milliseconds=1))
    keys = Counter([m.key for m in first.delivered] + [m.key for m in second.delivered])
    assert len(first.delivered) == 1  # only the delivery that was in flight
    assert sorted(keys.values()) == [1, 1, 1, 1, 1, 2]  # that one went twice, the rest once


@pytest.mark.parametrize("body", ['{"held":' + "[" * 100_000 + "}", '{"needs_operator": NaN}'])
def test_a_summary_body_edited_into_nonsense_still_goes_and_says_nothing_of_it(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    edit: Callable[..., None],
    body: str,
) -> None:
    make((1, 100, "EUR"))
    bill(FakeProvider(script={1: ["not_found"]}))
    edit("UPDATE notification SET body = ? WHERE kind = 'run_summary'", body)
    channel = FakeChannel()
    assert notify(channel).sent == 1
    (summary,) = [m for m in channel.delivered if m.kind == "run_summary"]
    assert "NaN" not in summary.text


def test_an_unreadable_row_a_dead_run_had_claimed_is_failed_once(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, edit: Callable[..., None]
) -> None:
    billed(make, bill, 2)
    edit(
        "UPDATE notification SET created_at = 'garbage', lease_owner = 'dead run', "
        "tries = 1 WHERE id = 1"
    )
    result = notify(FakeChannel())
    assert (result.sent, result.failed) == (1, 1)
    assert sql("SELECT status, lease_owner FROM notification WHERE id = 1") == [("failed", None)]


@pytest.mark.parametrize(
    ("is_alive", "at_once", "after_its_lease"),
    [(dead, 2, 2), (unknown, 0, 2), (alive, 0, 0)],
    ids=["proven dead", "on another host", "alive, frozen"],
)
def test_a_pass_s_notices_wait_until_it_ended_or_is_proven_dead(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    clock: FixedClock,
    is_alive: Callable[..., bool | None],
    at_once: int,
    after_its_lease: int,
) -> None:
    """A pass holds the lock and has written two receipts. Dead by the lock's own rule
    (its process is gone): they go at once. On another host, where only its heartbeat
    tells: once its lease is over. Alive, however long it has been frozen (SIGSTOP) and
    however old its heartbeat: never, for it may still withdraw them."""
    from tests.fakes import Crash

    make(*[(i, 100, "EUR") for i in range(1, 5)])
    provider = FakeProvider(crash_after_booking={3})
    with pytest.raises(Crash):
        bill(provider, batch_size=1)  # invoices 1 and 2 are committed; the lock is held
    assert notify(FakeChannel(), is_alive=is_alive).sent == at_once
    clock.advance(hours=6)  # far past the lock's lease
    assert notify(FakeChannel(), is_alive=is_alive).sent == after_its_lease - at_once


def test_a_live_pass_s_notices_wait_whatever_the_clock_says(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    edit: Callable[..., None],
) -> None:
    """The wall clock was stepped back while the pass ran: its notices carry times from
    before it started. They still wait: the run that wrote them is alive."""
    from tests.fakes import Crash

    make(*[(i, 100, "EUR") for i in range(1, 5)])
    with pytest.raises(Crash):
        bill(FakeProvider(crash_after_booking={3}), batch_size=1)
    edit(
        "UPDATE notification SET created_at = '2026-01-01T00:00:00+00:00', "
        "next_attempt_at = '2026-01-01T00:00:00+00:00'"
    )
    assert notify(FakeChannel(), is_alive=alive).sent == 0
    assert notify(FakeChannel(), is_alive=dead).sent == 2


def test_the_operator_is_told_of_an_overdue_attempt_in_the_run_summary(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, clock: FixedClock
) -> None:
    """An attempt no look-up could settle for three passes and six hours: the summary of
    the pass that finds it overdue names its key, amount and time, and what to do."""
    make((1, 4321, "EUR"))
    blind = FakeProvider(script={1: ["lost_response"]}, can_lookup=False)
    for _ in range(3):
        bill(blind)
        clock.advance(hours=2)
    assert notify(FakeChannel()).sent == 0  # nothing for the operator yet: 4 hours old
    bill(blind)
    channel = FakeChannel()
    notify(channel)
    (summary,) = [m for m in channel.delivered if m.kind == "run_summary"]
    ((key, started),) = sql("SELECT idempotency_key, started_at FROM payment_attempt")
    assert "0 invoices and 1 overdue charge need an operator" in summary.subject
    assert key in summary.text
    assert "EUR 43.21" in summary.text
    assert started in summary.text
    assert "4 passes could not settle it" in summary.text
    assert "settled by hand" in summary.text
