"""Whose failure is it? A refusal every notice meets is the channel's: nothing fails,
the run stops (exit 2), and the notices wait, untried. A failure that is one notice's
own counts its try, and the run goes on to the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from antaeus_cli.billing.results import PassResult
from antaeus_cli.channels.port import Message, Permanent, Scope, Transient
from antaeus_cli.cli.boundary import exit_code_for_notify
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.notify.results import NotifyResult
from tests.fakes import FakeChannel, FakeProvider

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
Notify = Callable[..., NotifyResult]

RELAY_DENIED = "554 5.7.1 <c1@example.com>: Relay access denied"


def relay_denied() -> Permanent:
    return Permanent(RELAY_DENIED)  # what may be the channel's, as the SMTP channel says


def keys(sql: Sql) -> list[str]:
    return [key for (key,) in sql("SELECT dedupe_key FROM notification ORDER BY id")]


def rows(sql: Sql) -> list[tuple[Any, ...]]:
    return sql("SELECT status, tries, lease_owner FROM notification ORDER BY id")


def test_a_refusal_every_notice_meets_fails_none_and_stops_the_run(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """A relay that answers `554 5.7.1 Relay access denied` to every recipient (AUTH
    missing): five in a row and none delivered. Nothing is failed, no try is spent, the
    run stops with the channel's code, and once the relay is fixed all of them go."""
    make(*[(i, 100 * i, "EUR") for i in range(1, 13)])
    bill(FakeProvider())
    channel = FakeChannel(every=relay_denied())
    result = notify(channel)
    assert len(channel.tries) == 5  # then it stopped
    assert result.channel_refused
    assert (result.sent, result.failed, result.deferred) == (0, 0, 0)
    assert result.stop_reason is not None
    assert "refused 5 notices in a row and delivered none" in result.stop_reason
    assert RELAY_DENIED in result.stop_reason
    assert exit_code_for_notify(result) is ExitCode.USAGE
    assert rows(sql) == [("pending", 0, None)] * 12
    fixed = FakeChannel()
    assert notify(fixed).sent == 12


def test_a_run_that_delivers_nothing_and_meets_only_refusals_is_the_channels(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """Fewer notices than the streak that stops a run (cron every few minutes meets one
    or two at a time): still none is failed while the channel has delivered nothing."""
    make((1, 100, "EUR"), (2, 200, "EUR"))
    bill(FakeProvider())
    for _ in range(3):  # run after run
        result = notify(FakeChannel(every=relay_denied()))
        assert result.channel_refused
        assert (result.sent, result.failed) == (0, 0)
        assert rows(sql) == [("pending", 0, None)] * 2
        assert [f.status for f in result.failures] == ["pending", "pending"]


def test_a_refusal_before_a_delivery_was_that_notices_own(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """The channel delivers the next notice: the refusal before it was about the first
    one alone (a recipient's policy), and it fails with the server's words."""
    make((1, 100, "EUR"), (2, 200, "EUR"), (3, 300, "EUR"))
    bill(FakeProvider())
    first = keys(sql)[0]
    result = notify(FakeChannel(failures={first: [relay_denied()]}))
    assert (result.sent, result.failed, result.channel_refused) == (2, 1, False)
    assert exit_code_for_notify(result) is ExitCode.NEEDS_OPERATOR
    assert sql("SELECT status, last_error FROM notification ORDER BY id") == [
        ("failed", RELAY_DENIED),
        ("sent", None),
        ("sent", None),
    ]


def test_refusals_after_the_last_delivery_are_tried_again_later_not_failed(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """The channel delivered, then refused the last two: whose refusals they are is not
    known yet. They are tried again after a backoff, a try spent, none failed."""
    make((1, 100, "EUR"), (2, 200, "EUR"), (3, 300, "EUR"))
    bill(FakeProvider())
    _, second, third = keys(sql)
    channel = FakeChannel(failures={second: [relay_denied()], third: [relay_denied()]})
    result = notify(channel)
    assert (result.sent, result.failed, result.deferred) == (1, 0, 2)
    assert not result.channel_refused
    assert rows(sql) == [("sent", 1, None), ("pending", 1, None), ("pending", 1, None)]


def test_five_refusals_after_a_delivery_stop_the_run_too(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """The relay starts refusing in the middle of a run: five in a row since the last
    delivery stop it; those five and the rest wait, untried."""
    make(*[(i, 100 * i, "EUR") for i in range(1, 11)])
    bill(FakeProvider())
    every = keys(sql)
    refusing = {key: [relay_denied()] for key in every[2:]}
    result = notify(FakeChannel(failures=refusing))
    assert result.channel_refused
    assert (result.sent, result.failed) == (2, 0)
    assert rows(sql) == [("sent", 1, None)] * 2 + [("pending", 0, None)] * 8


def test_a_notice_too_big_fails_alone_and_the_rest_are_delivered(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """A 552 (message too large) is that notice's: it fails; it does not stop the run or
    hold the notices behind it."""
    make(*[(i, 100 * i, "EUR") for i in range(1, 8)])
    bill(FakeProvider())
    every = keys(sql)
    too_big = {key: [Permanent("552 5.3.4 too big", scope=Scope.NOTICE)] for key in every[:6]}
    result = notify(FakeChannel(failures=too_big))
    assert (result.sent, result.failed, result.channel_refused) == (1, 6, False)
    assert result.stop_reason is None


def test_greylisted_recipients_in_a_row_are_not_an_outage(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """Six recipients greylisted in a row (`450 4.7.1`, each its own): each waits for a
    backoff with its try counted; the run goes on and delivers the rest."""
    make(*[(i, 100 * i, "EUR") for i in range(1, 10)])
    bill(FakeProvider())
    every = keys(sql)
    greylisted = Transient("450 4.7.1 greylisted, try later", scope=Scope.NOTICE)
    channel = FakeChannel(failures={key: [greylisted] * 5 for key in every[:6]})
    result = notify(channel)
    assert len(channel.tries) == 9  # a greylisted one is not tried again within the run
    assert result.stop_reason is None
    assert (result.sent, result.deferred) == (3, 6)
    assert rows(sql) == [("pending", 1, None)] * 6 + [("sent", 1, None)] * 3


def test_a_stop_with_refusals_held_hands_them_back_untried(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    make(*[(i, 100 * i, "EUR") for i in range(1, 5)])
    bill(FakeProvider())
    stop = threading.Event()

    class RefusesThenStops(FakeChannel):
        def deliver(self, message: Message) -> None:
            self.tries.append(message.key)
            stop.set()  # a signal arrives while the refusal is held
            raise relay_denied()

    channel = RefusesThenStops()
    result = notify(channel, stop=stop)
    assert not result.channel_refused
    assert result.stop_reason is not None
    assert "signal" in result.stop_reason
    assert rows(sql) == [("pending", 0, None)] * 4


def test_a_summary_delivered_to_the_operator_proves_nothing_of_the_customers(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """A relay that delivers to the operator's own domain and refuses to relay to any
    other: the run summary goes, the receipts are refused. That is the channel's
    refusal, not the receipts': none fails, none spends a try."""
    from tests.fakes import NOT_FOUND

    make((1, 100, "EUR"), (2, 200, "EUR"), (3, 300, "EUR"))
    bill(FakeProvider(script={3: [NOT_FOUND]}))  # held: the operator gets a summary
    receipts = [key for (key,) in sql("SELECT dedupe_key FROM notification WHERE kind = 'receipt'")]
    result = notify(FakeChannel(failures={key: [relay_denied()] for key in receipts}))
    assert result.channel_refused
    assert (result.sent, result.failed) == (1, 0)
    assert sql("SELECT kind, status, tries FROM notification ORDER BY id") == [
        ("receipt", "pending", 0),
        ("receipt", "pending", 0),
        ("run_summary", "sent", 1),
    ]
