"""--dry-run: what a pass would do, read from one snapshot, with no write at all.

No lock is taken and no run is recorded, so a dry run is safe while a real pass
is running; its figures describe the database as it was when it started.

It walks the invoices in the order the pass would charge them (the open attempts it
replays first; for `bill`, the breaker's spread sample, then id order, then what a
tripped breaker handed back), judges each as the pass would (domain.judgement), and
holds each charge to the run caps as the pass would (domain.limits): it stops where a
cap would stop the pass, taking every charge before it as paid (a decline gives its
share back, so a real pass may go a little further), and says why. It meets the
invoices in the pass's claims, `batch_size` at a time: the invoices of the claim in
which the pass stops are judged all the same (the pass holds those it refuses), and
only the later ones are left unjudged. The breaker cannot be foreseen: it trips on
the provider's answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from antaeus_cli.billing.preview_result import PreviewItem, PreviewResult, ZoneDue
from antaeus_cli.billing.results import LISTED_LIMIT, Command, OperatorItem
from antaeus_cli.billing.sources import check_named
from antaeus_cli.domain.attempt import Attempt
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.guards import AmountGuard
from antaeus_cli.domain.invoice import (
    FailureCode,
    Invoice,
    InvoiceRow,
    Rejection,
    idempotency_key,
)
from antaeus_cli.domain.judgement import (
    AFTER_WINDOW,
    Path,
    Wait,
    judge,
    month_of,
    waits_for_customer,
)
from antaeus_cli.domain.limits import LimitsState, RunLimits
from antaeus_cli.domain.money import Totals, format_minor
from antaeus_cli.domain.outcomes import result_of
from antaeus_cli.provider.registry import RefusedUnsent
from antaeus_cli.store import claims
from antaeus_cli.store.database import Store
from antaeus_cli.store.work import View


def preview_pass(
    store: Store,
    command: Command,
    clock: PassClock,
    *,
    invoice_ids: Sequence[int] = (),
    batch_size: int = 500,
    amount_guard: AmountGuard = AmountGuard(),  # noqa: B008 - frozen
    limits: RunLimits = RunLimits(),  # noqa: B008 - frozen
    refused_unsent: RefusedUnsent | None = None,
) -> PreviewResult:
    """`refused_unsent`: the amounts the provider the pass would charge through refuses
    before any request (provider.registry), held as the pass holds them."""
    tally = _Tally(store.namespace, limits, refused_unsent)
    with store.snapshot() as view:  # one read snapshot for the whole preview
        to_replay = view.count_open_attempts()
        names = view.zones()
        days = claims.days_sql(clock.days(names))
        if limits.max_total:
            tally.replays(_open_attempts(view, clock, batch_size))
        order = _in_pass_order(
            view,
            _path(command, invoice_ids),
            days,
            invoice_ids,
            batch_size,
            amount=amount_guard,
            clock=clock,
            sample=limits.sample,
        )
        for path, row, claim in order:
            tally.judge(path, row, clock, claim)
    return PreviewResult(
        command=command,
        as_of=clock.company_date,
        as_of_instant=clock.as_of.instant,
        zones=_zones(clock, names, tally.due_in, tally.held_in),
        to_replay=to_replay,
        to_charge=tally.totals.rows(),
        listed=tally.listed,
        operator_items=tally.operator_items,
        needs_operator=tally.needs_operator,
        awaiting_items=tally.awaiting_items,
        awaiting_customer=tally.awaiting,
        stop_reason=tally.stop_reason,
        beyond_cap=tally.beyond_cap,
        beyond_cap_totals=tally.beyond.rows(),
        replays_kept_open=tally.kept_open,
    )


class _Tally:
    """What the pass would do with each invoice it meets, in the order it meets them."""

    def __init__(
        self, namespace: str, limits: RunLimits, refused_unsent: RefusedUnsent | None
    ) -> None:
        self._namespace = namespace
        self._limits = limits
        self._refused_unsent = refused_unsent
        self._caps = LimitsState(limits)
        self.totals = Totals()
        self.listed: list[PreviewItem] = []
        self.operator_items: list[OperatorItem] = []
        self.needs_operator = 0
        self.awaiting_items: list[OperatorItem] = []
        self.awaiting = 0
        self.due_in: Counter[object] = Counter()
        self.held_in: Counter[object] = Counter()
        self.stop_reason: str | None = None
        self.beyond_cap = 0
        self.beyond = Totals()
        self.kept_open = 0
        self._stopped_in: int | None = None  # the claim in which the cap stopped the pass
        # the months the pass's claims take, by customer, as billing.sources.claim_rows
        # keeps them: a second invoice for a month the pass charges is held
        self._months: dict[tuple[object, str], int] = {}

    def replays(self, attempts: Iterator[Attempt]) -> None:
        """The open attempts the pass replays first: each reserves its amount, and one
        the cap refuses is looked up only and stays open, which stops nothing."""
        for attempt in attempts:
            if self._caps.admit(attempt) is not None:
                self.kept_open += 1

    def judge(self, path: Path, row: InvoiceRow, clock: PassClock, claim: int) -> None:
        """`claim`: which of the pass's claims takes the row (a claim judges all its rows
        before the first is sent)."""
        local_date = clock.local_date(row.timezone)
        checked = judge(path, row, local_date, self._months)
        if isinstance(checked, Wait):
            return  # in flight (counted in to_replay), or not due yet
        self.due_in[row.timezone] += 1
        if self.stop_reason is not None:
            if claim == self._stopped_in and isinstance(checked, Rejection):
                self._held(row, checked)  # judged by the claim the pass stopped in
            else:
                if isinstance(checked, Invoice):  # claimed, and released unsent
                    self._months[row.customer_id, month_of(row)] = row.id
                self._beyond(checked)  # the pass stopped before it: not sent, or not judged
            return
        if isinstance(checked, Rejection):
            self._held(row, checked)
            return
        self._months[row.customer_id, month_of(row)] = row.id
        key = idempotency_key(self._namespace, row.id, row.next_attempt_no)
        attempt = Attempt(
            checked, row.next_attempt_no, key, row.dunning, row.status, local_date=local_date
        )
        if self._caps.admit(attempt) is not None:
            self.stop_reason = self._stopped_at(checked)
            self._stopped_in = claim
            self._beyond(checked)
            return
        unsent = self._refused_unsent
        refused = None if unsent is None else unsent(checked.amount)
        if refused is not None:  # answered without a request, as the pass's provider does
            result = result_of(refused, 0)
            self._caps.answered(attempt, result)  # it moved no money: its share given back
            self._held(row, Rejection(FailureCode.PROVIDER_ERROR, result.detail or ""))
            return
        self.totals.add(checked.amount.currency.value, checked.amount.minor)
        if len(self.listed) < LISTED_LIMIT:
            self.listed.append(PreviewItem(row.id, row.customer_id, str(checked.amount), key))

    def _held(self, row: InvoiceRow, rejection: Rejection) -> None:
        self.held_in[row.timezone] += 1
        item = OperatorItem(row.id, rejection.code.value, rejection.detail)
        if waits_for_customer(rejection):
            self.awaiting += 1
            if len(self.awaiting_items) < LISTED_LIMIT:
                self.awaiting_items.append(item)
        else:
            self.needs_operator += 1
            if len(self.operator_items) < LISTED_LIMIT:
                self.operator_items.append(item)

    def _beyond(self, checked: Invoice | Rejection) -> None:
        self.beyond_cap += 1
        if isinstance(checked, Invoice):
            self.beyond.add(checked.amount.currency.value, checked.amount.minor)

    def _stopped_at(self, invoice: Invoice) -> str:
        money = invoice.amount
        currency = money.currency
        cap = format_minor(self._limits.max_total[currency], currency.value)
        before = format_minor(self._caps.reserved(currency), currency.value)
        return (
            f"run cap: charging invoice {invoice.id} ({money}) would take the pass past "
            f"--max-total {cap} ({before} charged or in doubt before it, every charge "
            "before it taken as paid); the pass would stop there"
        )


def _open_attempts(view: View, clock: PassClock, batch_size: int) -> Iterator[Attempt]:
    """The open attempts the pass would replay, in the order it replays them."""
    after: float = claims.BEFORE_FIRST
    while True:
        found = view.open_attempts(after, batch_size, clock)
        if found.last_id is None:
            return
        after = found.last_id
        yield from found.attempts


def _zones(
    clock: PassClock,
    names: list[str | None],
    due_in: Counter[object],
    held_in: Counter[object],
) -> list[ZoneDue]:
    """The company's zone, then the zones customers have (the first LISTED_LIMIT by name),
    each with its local date now."""
    zones = [ZoneDue(None, clock.company_date, due_in[None], held=held_in[None])]
    for name in [name for name in names if name is not None][:LISTED_LIMIT]:
        local = clock.local_date(name)
        zones.append(
            ZoneDue(name, local, due_in[name], known=local is not None, held=held_in[name])
        )
    return zones


def _path(command: Command, invoice_ids: Sequence[int]) -> Path:
    if invoice_ids:
        return Path.NAMED
    return Path.BILL if command is Command.BILL else Path.RETRY


def _in_pass_order(
    view: View,
    path: Path,
    days: claims.Days,
    invoice_ids: Sequence[int],
    batch_size: int,
    *,
    amount: AmountGuard,
    clock: PassClock,
    sample: int,
) -> Iterator[tuple[Path, InvoiceRow, int]]:
    """Due invoices in the order the pass charges them, each with the path that judges
    it and the number of the claim that takes it (billing.sources): named ones as
    named, `batch_size` a claim; for `bill`, the breaker's spread sample first, then the
    rest in id order, then what a tripped breaker handed back (its second walk); a
    batch at a time (keyset pagination), never all in memory."""
    guards = claims.Guards(amount)
    if path is Path.NAMED:
        found = view.invoices_by_id(invoice_ids, guards)
        check_named(found, invoice_ids, clock)
        yield from _by_id(path, found, invoice_ids, batch_size)
        return
    due = claims.Due.BILL if path is Path.BILL else claims.Due.RETRY
    sampled = view.spread_ids(due, days, sample) if path is Path.BILL else []
    claim = 0
    if sampled:
        rows = view.invoices_by_id(sampled, guards)
        yield from _by_id(path, rows, sampled, batch_size)
        claim = (len(sampled) - 1) // batch_size + 1
    # Each claim of a walk takes the next `batch_size` invoices still due when it is
    # made: not those the sample sent already (settled by then). One in flight is in
    # its claim's range, and left to its replay.
    # What a tripped breaker handed back is in the first walk's claims too: an earlier
    # rule (its zone, say) holds it there; the rest waits for the second walk.
    taken, left, n = set(sampled), set(), 0
    for batch in _walk(view, due, days, batch_size, amount):
        for row in batch:
            if row.id in taken:
                continue
            at, n = claim + n // batch_size, n + 1
            if path is Path.BILL and row.handed_back and _after_window(row, clock):
                left.add(row.id)
            else:
                yield path, row, at
    if left:  # the second walk: only what was handed back is still due then
        claim, n = claim + -(-n // batch_size), 0
        for batch in _walk(view, due, days, batch_size, amount):
            for row in batch:
                if row.id in left:
                    yield Path.BILL_HANDED_BACK, row, claim + n // batch_size
                    n += 1


def _after_window(row: InvoiceRow, clock: PassClock) -> bool:
    """Whether bill's first walk leaves the row for the second (no earlier rule holds it)."""
    return judge(Path.BILL, row, clock.local_date(row.timezone)) is AFTER_WINDOW


def _by_id(
    path: Path, rows: dict[int, InvoiceRow], ids: Sequence[int], batch_size: int
) -> Iterator[tuple[Path, InvoiceRow, int]]:
    """Invoices the pass claims by id (named, or sampled), `batch_size` a claim."""
    for n, invoice_id in enumerate(ids):
        if invoice_id in rows:
            yield path, rows[invoice_id], n // batch_size


def _walk(
    view: View,
    due: claims.Due,
    days: claims.Days,
    batch_size: int,
    amount: AmountGuard,
) -> Iterator[list[InvoiceRow]]:
    """The due invoices a claim at a time: each claim reads the next `batch_size`."""
    after: float = claims.BEFORE_FIRST
    while rows := view.due_batch(due, days, after, batch_size, amount=amount):
        yield rows
        after = rows[-1].id
