"""Where a pass's work comes from: open attempts to replay, due invoices to claim,
or invoices an operator named. Each batch is read and claimed in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from antaeus_cli.domain.attempt import Attempt
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.edits import shown
from antaeus_cli.domain.guards import AmountGuard
from antaeus_cli.domain.invoice import (
    FailureCode,
    InvoiceRow,
    InvoiceStatus,
    Rejection,
    idempotency_key,
)
from antaeus_cli.domain.judgement import NOT_DUE, Path, Wait, judge, month_of
from antaeus_cli.errors import NotRetryable
from antaeus_cli.store import careful, claims
from antaeus_cli.store.careful import Held
from antaeus_cli.store.work import View, Work


@dataclass(slots=True)
class Batch:
    attempts: list[Attempt] = field(default_factory=list)
    rejected: list[tuple[InvoiceRow, Rejection]] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)  # open attempts that cannot be replayed


class Source(Protocol):
    def next_batch(self, work: Work, now: datetime, limit: int) -> Batch | None:
        """Claim the next batch inside the caller's unit of work; None when there is no more."""
        ...

    def total(self, view: View) -> int:
        """About how much work there is, for progress only."""
        ...


@dataclass(frozen=True, slots=True)
class ClaimContext:
    run_id: int
    command: str
    namespace: str
    clock: PassClock  # each customer's local date, for the Python check


def claim_rows(
    work: Work,
    context: ClaimContext,
    now: datetime,
    rows: Sequence[InvoiceRow],
    path: Path,
    *,
    claimed: dict[tuple[object, str], int] | None = None,
) -> Batch:
    """Judge each invoice (domain.judgement); hold the refused ones, leave the ones
    that must wait, claim the rest under fresh keys. The judgement reads each
    customer's zone now: the SQL selected by the zones customers had when the pass
    began, and a zone may have changed since. `claimed`: the months this claim has
    taken, by customer (kept across the batches of invoices an operator named)."""
    batch = Batch()
    approved = []
    months: dict[tuple[object, str], int] = {} if claimed is None else claimed
    for row in rows:
        local_date = context.clock.local_date(row.timezone)
        checked = judge(path, row, local_date, months)
        if isinstance(checked, Wait):
            continue
        if isinstance(checked, Rejection):
            batch.rejected.append((row, checked))
            continue
        months[row.customer_id, month_of(row)] = row.id
        attempt_no = row.next_attempt_no
        key = idempotency_key(context.namespace, row.id, attempt_no)
        approved.append(  # fresh
            Attempt(checked, attempt_no, key, row.dunning, row.status, local_date=local_date)
        )
    if batch.rejected:
        work.reject(now=now, rejected=batch.rejected)
    if approved:
        batch.attempts = work.claim(
            run_id=context.run_id, command=context.command, now=now, attempts=approved
        )
    return batch


class DueSource:
    """Invoices the pass's query selects, in id order, a batch at a time."""

    def __init__(
        self,
        path: Path,
        days: claims.Days,
        context: ClaimContext,
        amount: AmountGuard,
        *,
        sample: int = 0,
    ) -> None:
        self._path = path
        # bill's first batches: this many due invoices spread over the whole id range, for
        # the decline-rate breaker to judge the pass by (store.spread), whatever the
        # batch size
        # (a sample of one is the walk's first invoice, so 0 or 1 charges in the same
        # order; test_retry_failed pins that only bill samples)
        self._sample = sample if path is Path.BILL else 0  # pragma: no mutate
        self._sampled: list[int] = []  # pragma: no mutate - only tested for truth, as None
        self._due = claims.Due.RETRY if path is Path.RETRY else claims.Due.BILL
        # bill's first walk leaves what a tripped breaker handed back to the second
        self._latest = {
            Path.BILL: claims.FRESH,
            Path.BILL_HANDED_BACK: claims.HANDED_BACK,
        }.get(path, claims.CLEAN)
        self._days = days
        self._context = context
        self._amount = amount
        self._guards = claims.Guards(amount, run_id=context.run_id)
        self._after: float = claims.BEFORE_FIRST

    @property
    def path(self) -> Path:
        return self._path

    def handed_back(self) -> DueSource:
        """bill's second walk: the invoices a tripped breaker handed back, charged once
        the pass has judged its fresh first charges (the breaker does not count them)."""
        return DueSource(Path.BILL_HANDED_BACK, self._days, self._context, self._amount)

    def next_batch(self, work: Work, now: datetime, limit: int) -> Batch | None:
        if self._sample:
            self._sampled = work.spread_ids(self._due, self._days, self._sample)
            self._sample = 0  # pragma: no mutate - only tested for truth: None reads the same
        if self._sampled:
            ids, self._sampled = self._sampled[:limit], self._sampled[limit:]
            rows = work.invoices_by_id(ids, self._guards)
            return claim_rows(
                work, self._context, now, [rows[i] for i in ids if i in rows], self._path
            )
        return self._walk(work, now, limit)

    def _walk(self, work: Work, now: datetime, limit: int) -> Batch | None:
        """Claim what passes the checks in one statement; the Python check judges the rest
        (it rejects the bad ones, and would claim any the SQL prefilter missed). Should
        a row's values break the batch, it is claimed again one invoice at a time."""
        context = self._context
        try:
            with work.savepoint():
                found = work.claim_due(
                    self._due,
                    self._days,
                    self._after,
                    limit,
                    namespace=context.namespace,
                    run_id=context.run_id,
                    command=context.command,
                    now=now,
                    amount=self._amount,
                    latest=self._latest,
                )
                if found is None:
                    return None
                # pragma: no mutate start - equivalent while test_judgement_prefilter pins the SQL
                # prefilter to the judgement: no row it leaves is approved, so the
                # context (which names new keys) and the order below are never used
                batch = claim_rows(work, context, now, found.others, self._path)
                # pragma: no mutate end
        except Exception as exc:
            if not careful.is_row_error(exc):
                raise
            return self._one_by_one(work, now, limit)
        self._after = found.upto
        batch.attempts[:0] = found.attempts  # pragma: no mutate - see above
        return batch

    def _one_by_one(self, work: Work, now: datetime, limit: int) -> Batch | None:
        ids = work.due_ids(self._due, self._days, self._after, limit)
        if not ids:
            return None
        self._after = max(ids)
        batch = Batch()
        for invoice_id in ids:
            try:
                with work.savepoint():
                    rows = work.invoices_by_id([invoice_id], self._guards)
                    one = claim_rows(work, self._context, now, list(rows.values()), self._path)
            except Exception as exc:
                if not careful.is_row_error(exc):
                    raise
                why = Rejection(FailureCode.MALFORMED, _unclaimable(exc))
                held = Held(
                    invoice_id, careful.NO_ATTEMPT, why
                )  # pragma: no mutate - None too matches no attempt row
                work.hold(now, held)
                batch.held.append(held)
                continue
            batch.attempts += one.attempts
            batch.rejected += one.rejected
        return batch

    def total(self, view: View) -> int:
        only = claims.ANY_HANDED_BACK if self._path is Path.BILL_HANDED_BACK else None
        return view.count_due(self._due, self._days, only)


class NamedSource:
    """Invoices an operator named with --invoice, in the order given."""

    def __init__(
        self, invoice_ids: Sequence[int], context: ClaimContext, amount: AmountGuard
    ) -> None:
        self._remaining = list(invoice_ids)
        self._context = context
        self._amount = amount
        self._claimed: dict[tuple[object, str], int] = {}  # months named invoices took
        # given-up invoices named in this word and held by an earlier claim: still given
        # up for the twins of later claims (store.claims.DUPLICATE_BUT_HELD)
        self._given_up_held: list[int] = []
        self._count = len(self._remaining)  # pragma: no mutate - for the progress bar only

    def next_batch(self, work: Work, now: datetime, limit: int) -> Batch | None:
        if not self._remaining:
            return None
        chunk, self._remaining = self._remaining[:limit], self._remaining[limit:]
        guards = claims.Guards(self._amount, tuple(self._given_up_held), self._context.run_id)
        found = work.invoices_by_id(chunk, guards)
        # again, under the lock: another pass may have run since
        check_named(found, chunk, self._context.clock)
        rows = [found[i] for i in chunk]
        batch = claim_rows(work, self._context, now, rows, Path.NAMED, claimed=self._claimed)
        self._given_up_held += [
            row.id for row, _ in batch.rejected if row.status is InvoiceStatus.UNCOLLECTIBLE
        ]
        return batch

    def total(self, view: View) -> int:  # noqa: ARG002 - known up front
        return self._count


class OpenAttemptSource:
    """Attempts whose outcome is not known (a crash, or the network), to replay as they were."""

    def __init__(self, clock: PassClock) -> None:
        self._after: float = claims.BEFORE_FIRST
        self._clock = clock

    def next_batch(self, work: Work, now: datetime, limit: int) -> Batch | None:
        found = work.open_attempts(self._after, limit, self._clock)
        if found.last_id is None:
            return None
        self._after = found.last_id
        if found.unreadable:
            work.hold_replays(now=now, held=found.unreadable)
        return Batch(attempts=found.attempts, held=found.unreadable)

    def total(self, view: View) -> int:
        return view.count_open_attempts()


# What --invoice may charge: FAILED, NEEDS_OPERATOR, UNCOLLECTIBLE and AWAITING_CUSTOMER,
# once their cause is fixed. Every other status is refused below, each by name
# (test_retry_failed enumerates the statuses, so a new one must be placed here).
REFUSED_BY_NAME = frozenset(
    {InvoiceStatus.PAID, InvoiceStatus.PROCESSING, InvoiceStatus.PENDING, InvoiceStatus.VOID}
)


def check_named(found: dict[int, InvoiceRow], invoice_ids: Sequence[int], clock: PassClock) -> None:
    """Refuse --invoice names that must not be charged now, all reasons in one line.
    --invoice overrides a retry date, never a due date: an invoice whose due date has
    not begun in its customer's zone is refused (an unknown zone is held again)."""
    problems = []
    for invoice_id in invoice_ids:
        row = found.get(invoice_id)
        local_date = None if row is None else clock.local_date(row.timezone)
        # the path is asked only after the due date: any path finds NOT_DUE alike
        verdict = None if row is None else judge(Path.NAMED, row, local_date)  # pragma: no mutate
        if row is None:
            problems.append(f"invoice {invoice_id} does not exist")
        elif row.status is InvoiceStatus.PAID:
            problems.append(f"invoice {invoice_id} is already PAID")
        elif row.status is InvoiceStatus.VOID:
            problems.append(
                f"invoice {invoice_id} is VOID: an operator voided it, and it is never charged "
                "('antaeus report --section void' says when and why); if the money is owed "
                "after all, bill it under a new invoice"
            )
        elif row.status is InvoiceStatus.PROCESSING or row.in_flight:
            problems.append(
                f"invoice {invoice_id} has a charge in flight whose outcome is not known yet; "
                "run 'antaeus retry-failed' without --invoice to reconcile it first"
            )
        elif row.status is InvoiceStatus.PENDING:
            problems.append(
                f"invoice {invoice_id} is PENDING: 'antaeus bill' charges it once it is due"
            )
        elif verdict is NOT_DUE:
            problems.append(
                f"invoice {invoice_id} is due {shown(row.due_date)}, which has not begun in its "
                f"customer's zone (it is {local_date} there); it is never charged before its "
                "due date: retry it once that date has begun"
            )
    if problems:
        raise NotRetryable("; ".join(problems) + "; nothing was charged")


def _unclaimable(exc: BaseException) -> str:
    return (
        "this invoice or its ledger holds a value the claim cannot take "
        f"({careful.reason_of(exc)}); nothing was sent"
    )
