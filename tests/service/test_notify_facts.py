"""What a notice tells a customer is what happened: the charge's own day after a crash,
how many times the invoice was tried, a retry date still to come; and it goes to the
customer whose attempt it tells of, or to nobody."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import PassResult
from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.notify.results import NotifyResult
from tests.fakes import DECLINED, Crash, FakeChannel, FakeProvider, FixedClock

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
Notify = Callable[..., NotifyResult]


def texts(channel: FakeChannel) -> dict[str, str]:
    return {message.kind.value: message.text for message in channel.delivered}


def test_a_receipt_after_a_crash_gives_the_day_of_the_charge(
    make: Callable[..., Path], bill: Bill, notify: Notify, clock: FixedClock
) -> None:
    """Charged on 1 December, killed before it was recorded; the pass of 3 December
    finds the charge under its key and records it. The receipt says 1 December."""
    make((1, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    clock.advance(days=2)
    bill(provider, as_of=date(2026, 12, 3))  # the look-up finds the charge
    channel = FakeChannel()
    notify(channel)
    assert "for invoice 1 on December 1, 2026." in texts(channel)["receipt"]


@pytest.mark.parametrize(
    ("schedule", "tries", "said"),
    [
        (
            (),
            1,
            "We tried to charge \u20ac1.00 for invoice 1 on December 1, 2026, and the last time",
        ),
        (
            (1,),
            2,
            "We tried to charge \u20ac1.00 for invoice 1 twice, most recently on December 2, 2026",
        ),
        (
            (1, 2),
            3,
            "We tried to charge \u20ac1.00 for invoice 1 3 times, most recently on "
            "December 3, 2026",
        ),
    ],
)
def test_a_final_notice_counts_the_tries_there_were(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    clock: FixedClock,
    schedule: tuple[int, ...],
    tries: int,
    said: str,
) -> None:
    """With no retries configured, the first decline is final: it was tried once, not
    "several times"."""
    from antaeus_cli.billing.results import Command

    make((1, 100, "EUR"))
    dunning = DunningSchedule(schedule)
    bill(FakeProvider(default=DECLINED), schedule=dunning)
    for n in range(1, tries):
        clock.advance(days=1)
        bill(
            FakeProvider(default=DECLINED),
            command=Command.RETRY_FAILED,
            as_of=date(2026, 12, 1 + n),
            schedule=dunning,
        )
    channel = FakeChannel()
    notify(channel)
    assert said in texts(channel)["final_notice"]
    assert "several" not in texts(channel)["final_notice"]


def test_a_retry_date_already_gone_when_the_notice_was_written_is_not_promised(
    make: Callable[..., Path], bill: Bill, notify: Notify
) -> None:
    """A pass run for a past --as-of (1 November) schedules the retry for 2 November,
    a month before the notice is written: the customer is told it comes shortly."""
    make((1, 100, "EUR"), due=date(2026, 11, 1))
    bill(FakeProvider(default=DECLINED), as_of=date(2026, 11, 1))
    channel = FakeChannel()
    notify(channel)
    text = texts(channel)["payment_failed"]
    assert "We will try again shortly." in text
    assert "November 2, 2026" not in text


def test_a_notice_moved_to_another_customer_s_attempt_goes_to_nobody(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, edit: Callable[..., None]
) -> None:
    """Customer 1's receipt edited to point at customer 2's attempt: its key no longer
    names its attempt, so it is failed with the reason; customer 2 gets their own only."""
    make((1, 100, "EUR"), (2, 200, "EUR"))
    bill(FakeProvider())
    edit(
        "UPDATE notification SET attempt_id = (SELECT id FROM payment_attempt WHERE "
        "invoice_id = 2) WHERE attempt_id = (SELECT id FROM payment_attempt WHERE invoice_id = 1)"
    )
    channel = FakeChannel()
    result = notify(channel)
    assert [message.recipient for message in channel.delivered] == ["c2@example.com"]
    assert result.failed == 1
    (error,) = sql("SELECT last_error FROM notification WHERE status = 'failed'")[0]
    assert "its attempt is not the one its key names" in error
