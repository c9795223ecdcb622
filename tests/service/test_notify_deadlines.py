"""Every delivery has a deadline for the whole exchange, not per read, and a stop cuts
the one in flight: against servers that trickle their answers for ever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import PassResult
from antaeus_cli.channels.port import Channel
from antaeus_cli.channels.smtp import SmtpChannel, SmtpSettings
from antaeus_cli.channels.webhook import WebhookChannel, WebhookSettings
from antaeus_cli.domain.waits import STOP_GRACE_S
from antaeus_cli.notify.results import NotifyResult
from tests.fakes import FakeProvider
from tests.servers.trickle import (
    trickling_greeting,
    trickling_http,
    trickling_http_body,
    trickling_smtp,
)

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
Notify = Callable[..., NotifyResult]
DEADLINE_S = 1.0


def smtp_channel(port: int) -> SmtpChannel:
    settings = SmtpSettings("127.0.0.1", port, "billing@example.com", timeout=DEADLINE_S)
    return SmtpChannel(settings, f"smtp://127.0.0.1:{port}")


def webhook_channel(port: int) -> WebhookChannel:
    settings = WebhookSettings("127.0.0.1", port, "/hook", b"s3cret", tls=False, timeout=DEADLINE_S)
    return WebhookChannel(settings, f"webhook://127.0.0.1:{port}/hook")


@pytest.mark.parametrize(
    ("server", "channel"),
    [
        (trickling_greeting, smtp_channel),
        (trickling_smtp, smtp_channel),
        (trickling_http, webhook_channel),
    ],
    ids=["smtp greeting", "smtp reply", "webhook"],
)
def test_a_server_that_never_finishes_answering_is_cut_at_the_deadline(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    server: Callable[[], Any],
    channel: Callable[[int], Channel],
) -> None:
    """Each piece of the answer comes well inside the read timeout, and the answer never
    ends: the delivery is cut at its deadline for the whole exchange, fails for now
    (its tries within the run too), and the run ends."""
    make((1, 100, "EUR"))
    bill(FakeProvider())
    with server() as port:
        started = time.monotonic()
        result = notify(channel(port))
        took = time.monotonic() - started
    assert took < 3 * DEADLINE_S + 2  # three tries within the run, each cut at 1 s
    assert (result.sent, result.deferred) == (0, 1)
    reason = result.failures[0].reason
    assert reason == "cut: the delivery took over its deadline of 1 s in all"
    assert sql("SELECT status, tries, last_error FROM notification") == [("pending", 1, reason)]


def test_a_receiver_that_takes_an_event_and_trickles_its_answer_costs_one_deadline(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    """The receiver said 200, so the event was taken; its body never ends. The delivery
    counts, after one deadline at most (not a byte at a time for 64 KiB), and the
    connection is not used again."""
    make((1, 100, "EUR"), (2, 200, "EUR"))
    bill(FakeProvider())
    with trickling_http_body() as port:
        started = time.monotonic()
        result = notify(webhook_channel(port))
        took = time.monotonic() - started
    assert took < 2 * DEADLINE_S + 1.5
    assert result.sent == 2
    assert sql("SELECT DISTINCT status FROM notification") == [("sent",)]


def test_a_stop_cuts_the_delivery_in_flight_after_a_moment_s_grace(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql
) -> None:
    make((1, 100, "EUR"), (2, 200, "EUR"))
    bill(FakeProvider())
    stop = threading.Event()
    with trickling_smtp() as port:
        channel = SmtpChannel(
            SmtpSettings("127.0.0.1", port, "billing@example.com", timeout=600.0),
            f"smtp://127.0.0.1:{port}",
        )
        threading.Timer(0.3, stop.set).start()
        started = time.monotonic()
        result = notify(channel, stop=stop)
        took = time.monotonic() - started
    assert took < 0.3 + STOP_GRACE_S + 1.5
    assert result.stop_reason == "stopped by a signal; the rest is delivered next run"
    assert result.failures[0].reason.startswith("cut: the run was asked to stop")
    # the one cut waits for its backoff; the other was never tried
    assert sql("SELECT tries, lease_owner FROM notification ORDER BY tries") == [
        (0, None),
        (1, None),
    ]


def test_a_second_signal_cuts_the_delivery_in_flight_at_once(
    make: Callable[..., Path], bill: Bill, notify: Notify
) -> None:
    make((1, 100, "EUR"))
    bill(FakeProvider())
    stop, hurry = threading.Event(), threading.Event()
    with trickling_smtp() as port:
        channel = SmtpChannel(
            SmtpSettings("127.0.0.1", port, "billing@example.com", timeout=600.0),
            f"smtp://127.0.0.1:{port}",
        )

        def twice() -> None:
            stop.set()
            hurry.set()

        threading.Timer(0.3, twice).start()
        started = time.monotonic()
        result = notify(channel, stop=stop, hurry=hurry)
        took = time.monotonic() - started
    assert took < 0.3 + 1.0
    assert result.failures[0].reason == "cut: a second signal asked the run to stop at once"
