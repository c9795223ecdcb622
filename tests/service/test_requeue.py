"""Putting notices `notify` gave up on back in the outbox: by kind, by customer, since
a time; as new; never one whose decline no longer stands; a dry run writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.channels.port import Permanent, Scope, Unaddressed
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.notify.requeue import RequeueFilter, RequeueResult, requeue_notices
from antaeus_cli.notify.results import NotifyResult
from antaeus_cli.store.database import Store
from tests.fakes import DECLINED, FakeChannel, FakeProvider, FixedClock

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
Notify = Callable[..., NotifyResult]
GONE = Permanent("550 5.1.1 user unknown", scope=Scope.NOTICE)


@pytest.fixture
def put_back(db_path: Path, clock: FixedClock) -> Callable[..., RequeueResult]:
    def run(*, dry_run: bool = False, **chosen: Any) -> RequeueResult:
        store = Store.open(db_path)
        try:
            return requeue_notices(store, RequeueFilter(**chosen), now=clock(), dry_run=dry_run)
        finally:
            store.close()

    return run


def failed_all(notify: Notify, sql: Sql) -> None:
    """Every customer notice refused for good by the recipient's server."""
    keys = [key for (key,) in sql("SELECT dedupe_key FROM notification")]
    notify(FakeChannel(failures={key: [GONE] for key in keys}))


def test_failed_notices_go_back_as_new_and_are_then_delivered_once(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    put_back: Any,
    clock: FixedClock,
) -> None:
    make((1, 100, "EUR"), (2, 200, "EUR"), (3, 300, "EUR"))
    bill(FakeProvider(script={2: [DECLINED]}))
    failed_all(notify, sql)
    assert sql("SELECT DISTINCT status FROM notification") == [("failed",)]
    result = put_back()
    assert (result.requeued, result.kept) == (3, 0)
    assert sql("SELECT DISTINCT status, tries, lease_owner FROM notification") == [
        ("pending", 0, None)
    ]
    (error,) = sql("SELECT last_error FROM notification ORDER BY id LIMIT 1")[0]
    assert error.startswith(f"put back in the outbox at {clock().isoformat()} after: 550 5.1.1")
    channel = FakeChannel()
    assert notify(channel).sent == 3
    assert put_back().requeued == 0  # nothing sent goes back
    assert notify(FakeChannel()).sent == 0


def test_notices_are_chosen_by_kind_customer_and_time(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    put_back: Any,
    edit: Callable[..., None],
) -> None:
    make((1, 100, "EUR"), (2, 200, "EUR"), (3, 300, "EUR"))
    bill(FakeProvider(script={2: [DECLINED]}))
    failed_all(notify, sql)
    edit(
        "UPDATE notification SET created_at = '2026-11-01T00:00:00+00:00' WHERE attempt_id = "
        "(SELECT id FROM payment_attempt WHERE invoice_id = 3)"
    )
    assert put_back(kinds=(NoticeKind.PAYMENT_FAILED,), dry_run=True).requeued == 1
    assert put_back(customers=(1, 3), dry_run=True).requeued == 2
    later = put_back(since=datetime(2026, 11, 15, tzinfo=UTC), dry_run=True)
    assert sorted(one.customer_id for one in later.listed) == [1, 2]
    both = put_back(
        kinds=(NoticeKind.RECEIPT,), customers=(3,), since=datetime(2026, 10, 1, tzinfo=UTC)
    )
    assert [one.customer_id for one in both.listed] == [3]
    assert sql("SELECT status, count(*) FROM notification GROUP BY 1 ORDER BY 1") == [
        ("failed", 2),
        ("pending", 1),
    ]


def test_a_dry_run_writes_nothing(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, put_back: Any
) -> None:
    make((1, 100, "EUR"))
    bill(FakeProvider())
    failed_all(notify, sql)
    before = sql("SELECT * FROM notification")
    assert put_back(dry_run=True).requeued == 1
    assert sql("SELECT * FROM notification") == before


def test_a_decline_notice_whose_decline_no_longer_stands_stays_as_it_is(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    put_back: Any,
    clock: FixedClock,
) -> None:
    """Invoice 1 declined, then was paid by its retry; invoice 2 declined and waits.
    Telling customer 1 now that their payment failed would be untrue: only the other
    decline notice and the receipt go back."""
    make((1, 100, "EUR"), (2, 200, "EUR"))
    bill(FakeProvider(script={1: [DECLINED], 2: [DECLINED]}))
    failed_all(notify, sql)
    clock.advance(days=1)
    from datetime import date

    bill(
        FakeProvider(script={2: [DECLINED]}),
        command=Command.RETRY_FAILED,
        as_of=date(2026, 12, 2),
        invoice_ids=(1,),
    )
    assert sql("SELECT status FROM invoice ORDER BY id") == [("PAID",), ("FAILED",)]
    result = put_back(kinds=(NoticeKind.PAYMENT_FAILED,))
    assert result.requeued == 1
    assert [(one.kind, one.customer_id) for one, _ in result.kept_listed] == [("payment_failed", 1)]
    assert "its invoice is PAID now" in result.kept_listed[0][1]


def test_skipped_notices_go_back_only_when_asked(
    make: Callable[..., Path], bill: Bill, notify: Notify, sql: Sql, put_back: Any
) -> None:
    make((1, 100, "EUR"))
    bill(FakeProvider())
    notify(FakeChannel(every=Unaddressed("the customer has no e-mail address")))
    assert sql("SELECT status FROM notification") == [("skipped",)]
    assert put_back().requeued == 0
    assert put_back(skipped=True).requeued == 1
    assert sql("SELECT status FROM notification") == [("pending",)]


def test_a_notice_put_back_goes_to_the_customer_s_address_as_it_is_now(
    make: Callable[..., Path],
    bill: Bill,
    notify: Notify,
    sql: Sql,
    put_back: Any,
    edit: Callable[..., None],
) -> None:
    """The address was wrong (refused for good), or missing (skipped); the operator
    corrects the customer's address and puts the notices back: they go to it."""
    make((1, 100, "EUR"), (2, 200, "EUR"))
    edit("UPDATE customer SET email = 'bad@nowhere.example' WHERE id = 1")
    edit("UPDATE customer SET email = NULL WHERE id = 2")
    bill(FakeProvider())
    (bad,) = sql("SELECT dedupe_key FROM notification WHERE recipient = 'bad@nowhere.example'")[0]
    (none,) = sql("SELECT dedupe_key FROM notification WHERE recipient IS NULL")[0]
    nowhere = Unaddressed("the customer has no e-mail address")
    notify(FakeChannel(failures={bad: [GONE], none: [nowhere]}))
    assert sql("SELECT status FROM notification ORDER BY id") == [("failed",), ("skipped",)]
    edit("UPDATE customer SET email = 'fixed@example.com' WHERE id = 1")
    edit("UPDATE customer SET email = 'new@example.com' WHERE id = 2")
    result = put_back(skipped=True)
    assert sorted(one.recipient or "" for one in result.listed) == [
        "fixed@example.com",
        "new@example.com",
    ]
    channel = FakeChannel()
    notify(channel)
    assert sorted(m.recipient or "" for m in channel.delivered) == [
        "fixed@example.com",
        "new@example.com",
    ]
