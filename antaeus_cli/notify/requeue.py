"""`antaeus requeue-notices`: put the notices `notify` gave up on back in the outbox.

A notice fails for good when the channel refused it or its tries ran out; one is
skipped when there was nowhere to send it. Once the cause is fixed (an address
corrected, a relay set up, an operator address given), an operator puts them back:
chosen by kind, by customer and by when they were written, as new (no try spent, due
now), and `notify` sends them under their own identity (Message-ID, event id), so a
receiver that saw one already drops it. A decline notice whose decline no longer
stands (its invoice paid or voided since, or tried again) is left as it is: it would
tell the customer something untrue (domain.notices.no_longer_true). A dry run says the
same from a read-only snapshot and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from antaeus_cli.domain.notices import NoticeKind, NoticeStatus, no_longer_true
from antaeus_cli.notify.results import LISTED_LIMIT
from antaeus_cli.store.database import Store
from antaeus_cli.store.outbox_work import NoticeView
from antaeus_cli.store.requeue import Undelivered


@dataclass(frozen=True, slots=True)
class RequeueFilter:
    kinds: tuple[NoticeKind, ...] = ()  # none: every kind
    customers: tuple[int, ...] = ()  # none: every customer, and run summaries
    since: datetime | None = None  # written at or after
    skipped: bool = False  # also those skipped for want of an address


@dataclass
class RequeueResult:
    dry_run: bool
    requeued: int = 0
    listed: list[Undelivered] = field(default_factory=list)  # the first LISTED_LIMIT
    kept: int = 0  # no longer true: left as they are
    kept_listed: list[tuple[Undelivered, str]] = field(default_factory=list)


def requeue_notices(
    store: Store, chosen: RequeueFilter, *, now: datetime, dry_run: bool = False
) -> RequeueResult:
    """Put the chosen notices back in the outbox, or (`dry_run`) say which would go."""
    result = RequeueResult(dry_run)
    if dry_run:
        with store.notice_view() as outbox:
            _sort(result, _read(outbox, chosen))
        return result
    with store.notices() as work:
        ids = _sort(result, _read(work, chosen))
        result.requeued = work.requeue(ids, now=now)
    return result


def _read(outbox: NoticeView, chosen: RequeueFilter) -> list[Undelivered]:
    statuses = [NoticeStatus.FAILED.value]
    if chosen.skipped:
        statuses.append(NoticeStatus.SKIPPED.value)
    return outbox.undelivered(
        statuses=statuses,
        kinds=[kind.value for kind in chosen.kinds] or None,
        customers=list(chosen.customers) or None,
        since=chosen.since,
    )


def _sort(result: RequeueResult, found: Sequence[Undelivered]) -> list[int]:
    """The ids to put back; the rest kept, with why."""
    ids = []
    for notice in found:
        why = no_longer_true(NoticeKind(notice.kind), notice.invoice_status, notice.latest)
        if why is not None:
            result.kept += 1
            if len(result.kept_listed) < LISTED_LIMIT:
                result.kept_listed.append((notice, why))
            continue
        ids.append(notice.id)
        if len(result.listed) < LISTED_LIMIT:
            result.listed.append(notice)
    if result.dry_run:
        result.requeued = len(ids)
    return ids
