"""The pass engine: claim a batch, charge it, record the answers, repeat.

One thread owns the database. With a provider that waits on the network, calls
run on a bounded thread pool while the owner claims ahead and commits answers in
batches; with an in-process provider, calls run inline, which is faster than any
pool. Either way every attempt row is committed before its call, and an answer
that is lost with the process is recovered by replaying its key next time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from antaeus_cli import failpoints as fp
from antaeus_cli.billing.calls import RetryPolicy, call_provider, lost_to_the_network
from antaeus_cli.billing.pacing import AdaptivePacer, AnyPacer, PacedProvider, Pacer
from antaeus_cli.billing.results import Observer, PassCounts, Phase, RunStatus
from antaeus_cli.billing.sources import Source
from antaeus_cli.domain import words
from antaeus_cli.domain.attempt import Attempt, CallResult, KeepOpen, Settled
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.edits import unrecordable
from antaeus_cli.domain.guards import AmountGuard
from antaeus_cli.domain.invoice import InvoiceStatus
from antaeus_cli.domain.judgement import held_status
from antaeus_cli.domain.limits import LimitsState, RunLimits
from antaeus_cli.domain.outcomes import settle
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.store import runs
from antaeus_cli.store.careful import Held
from antaeus_cli.store.database import Store
from antaeus_cli.store.work import Work

Clock = Callable[[], datetime]


class StopRequest:
    """Set from a signal handler to make the pass stop claiming and wind down."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""  # pragma: no mutate - read only as `reason or ...`: None reads the same

    def request(self, reason: str) -> None:
        self.reason = reason
        self.event.set()


@dataclass(frozen=True, slots=True)
class PassSettings:
    # The moment the pass runs as of (a date is the date form: that date for everybody),
    # and the zone of customers without one (None: the machine's).
    as_of: AsOf | date
    schedule: DunningSchedule = field(default_factory=DunningSchedule)
    concurrency: int = 8
    batch_size: int = 500
    outage_threshold: int = 5  # consecutive invoices ending in network failure
    sweeps: int = 3  # end-of-pass rounds that replay this pass's unknown outcomes
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    flush_seconds: float = 1.0
    max_rate: float | None = None  # provider requests per second, retries included
    limits: RunLimits = field(default_factory=RunLimits)  # caps and the decline breaker
    amount_guard: AmountGuard = field(default_factory=AmountGuard)  # bill's anomaly guard
    company_zone: tzinfo | None = None
    # The real moment a pass that charges starts: no customer's date is later than it
    # is where they are then (domain.clock.PassClock). None: tests' clocks, dry runs.
    not_after: datetime | None = None

    @property
    def clock(self) -> PassClock:
        as_of = self.as_of if isinstance(self.as_of, AsOf) else AsOf.on(self.as_of)
        return PassClock(as_of, self.company_zone, self.not_after)


class Engine:
    def __init__(
        self,
        store: Store,
        provider: PaymentProvider,
        settings: PassSettings,
        *,
        run_id: int,
        clock: Clock,
        stop: StopRequest,
        observer: Observer,
        failpoints: fp.Failpoints = fp.NONE,
    ) -> None:
        self._store = store
        # A network provider is paced: at --max-rate, or else adaptively, by its 429s.
        # An in-process one is not, unless asked: pacing costs it more than it calls.
        self.pacer: AnyPacer | None = None
        if settings.max_rate is not None:
            self.pacer = Pacer(settings.max_rate, burst=settings.concurrency)
        elif provider.waits_on_io:
            self.pacer = AdaptivePacer()
        if self.pacer is not None:
            provider = PacedProvider(provider, self.pacer, stop.event)
        self._provider: PaymentProvider = provider
        self._settings = settings
        self._company_date, self._schedule = settings.clock.company_date, settings.schedule
        self._run_id = run_id
        self._clock = clock
        self._stop = stop
        self._observer = observer
        self._failpoints = failpoints
        self.counts = PassCounts()
        self._outage: str | None = None
        self._limits = LimitsState(settings.limits)
        self._capped: str | None = None  # why a run cap stopped the pass
        self._tripped: str | None = None  # why the decline-rate breaker stopped it
        # how many of the breaker's declines were handed back (None would slice as 0)
        self._handed = 0  # pragma: no mutate
        self._unknown_streak = 0
        self._unknown_results = 0  # answers lost to the network, this pass
        self._answered = False  # pragma: no mutate - only tested for truth: None is as false
        self._done: list[Settled] = []
        self._held: set[tuple[int, int]] = set()  # (attempt, invoice) this pass held
        # pragma: no mutate start - equivalent: the first claim sets all three before any
        # is read (_settled, _heartbeat, and run_phase, which numbers each phase's batches)
        self._last_flush = time.monotonic()
        self._last_heartbeat = time.monotonic()
        self._flushed = 0  # batches of answers committed in the current phase
        # pragma: no mutate end

    @property
    def run_id(self) -> int:
        return self._run_id

    @property
    def stopping(self) -> bool:
        return (
            self._outage is not None
            or self._capped is not None
            or self._tripped is not None
            or self._stop.event.is_set()
        )

    def ending(self) -> tuple[RunStatus, str | None]:
        if self._tripped is not None:
            return RunStatus.STOPPED_BREAKER, self._tripped
        if self._capped is not None:
            return RunStatus.STOPPED_CAP, self._capped
        if self._outage is not None:
            return RunStatus.STOPPED_OUTAGE, self._outage
        if self._unknown_results and not self._answered and not self._stop.event.is_set():
            # Fewer invoices than the threshold, but not one answer: an outage all the same.
            return RunStatus.STOPPED_OUTAGE, (
                f"provider outage: every request of this pass ended in network failures "
                f"({words.counted(self._unknown_results, 'answer')} lost); the invoices stay in "
                "flight"
            )
        if self._stop.event.is_set():
            return RunStatus.INTERRUPTED, self._stop.reason or "interrupted"
        return RunStatus.COMPLETED, None

    def run_phase(self, phase: Phase, source: Source, *, breaker: bool = True) -> None:
        """Run one source to its end. `breaker=False`: its first charges are not counted
        by the decline-rate breaker (those an earlier trip handed back)."""
        self._limits.watching = breaker
        with self._store.view() as view:
            total = source.total(view)
        self._observer.phase(phase, total)
        self._flushed = 0
        if total == 0:
            return
        # A provider that waits on the network is called from the pool, even one call at a
        # time, so that this thread never waits on it and keeps the lease meanwhile.
        pooled = self._provider.waits_on_io
        if pooled:
            self._drive_pooled(source)
        else:
            self._drive_inline(source)

    def _drive_inline(self, source: Source) -> None:
        # The hot loop of an overhead-bound pass: names are bound once, not per invoice.
        provider, retry, event, clock = (
            self._provider,
            self._settings.retry,
            self._stop.event,
            self._clock,
        )
        record, stopped = self._record, event.is_set
        capped = bool(self._settings.limits.max_total)  # no cap: nothing to reserve
        # The clock is read every 64 invoices, not per invoice; but per invoice when a
        # call may take long (network latency, a rate limit, in-pass retries), so that
        # answers are still committed every flush_seconds and the lease renewed on time.
        every = 1 if provider.waits_on_io or self.pacer is not None else 64  # pragma: no mutate
        while not self.stopping:
            attempts = self._claim(source)
            if attempts is None:
                return
            for index, claimed in enumerate(attempts):
                if self._outage or self._tripped or stopped():
                    self._release(attempts[index:])
                    break
                # with no cap, admitting refuses nothing: skipping it is speed only
                attempt = self._admitted(claimed) if capped else claimed  # pragma: no mutate
                if attempt is None:  # the cap stopped the pass
                    self._release(attempts[index:])
                    break
                result = call_provider(provider, attempt, retry, event, clock)
                if result is None:  # the pass began stopping before it was sent
                    self._release(attempts[index:])
                    break
                record(attempt, result)
                if index % every == every - 1 or result.calls != 1:
                    if self._overdue():
                        self._flush()
                    self._keep_lease()
        # The answers of each batch are committed together with the next claim.
        self._flush()

    def _drive_pooled(self, source: Source) -> None:
        concurrency = self._settings.concurrency
        claimed: deque[Attempt] = deque()
        inflight: dict[Future[CallResult | None], Attempt] = {}
        exhausted = False  # pragma: no mutate - only ever tested for truth, as None would be
        # pragma: no mutate start - equivalent: the pool has exactly `concurrency` threads
        # and the loop below sends no more than that (test_pooled pins the bound, which
        # either alone keeps); the names are for a debugger
        pool = ThreadPoolExecutor(concurrency, thread_name_prefix="charge")
        # pragma: no mutate end
        with pool:
            while True:
                if not self.stopping:
                    # Not mutated: how far claims run ahead of the calls is speed only; what
                    # is claimed and never sent is handed back, and a source asked again once
                    # exhausted has nothing more to give.
                    if not exhausted and len(claimed) < concurrency:  # pragma: no mutate
                        attempts = self._claim(source)
                        exhausted = attempts is None
                        claimed.extend(attempts or ())
                    while claimed and _room(inflight, concurrency) and not self.stopping:
                        admitted = self._admitted(claimed[0])
                        if admitted is None:
                            break  # not sent: handed back with the rest of the claim
                        claimed.popleft()
                        inflight[pool.submit(self._call, admitted)] = admitted
                if not inflight:
                    if self.stopping or (exhausted and not claimed):
                        break
                    continue
                # pragma: no mutate start - how often the owner wakes while calls are slow,
                # to renew the lease and commit answers: a latency bound, not a result
                finished, _ = wait(inflight, timeout=0.2, return_when=FIRST_COMPLETED)
                # pragma: no mutate end
                for future in finished:
                    attempt, result = inflight.pop(future), future.result()
                    if result is None:  # stopped while waiting for a rate slot: not sent
                        claimed.appendleft(attempt)
                    else:
                        self._record(attempt, result)
                if self._batch_due():
                    self._flush()
                self._keep_lease()
        self._release(list(claimed))
        self._flush()

    def _batch_due(self) -> bool:
        """Between claims, answers are committed by the batch, or by the clock."""
        # pragma: no mutate start - see _overdue
        return len(self._done) >= self._settings.batch_size or self._overdue()
        # pragma: no mutate end

    def _overdue(self) -> bool:
        """Whether answers have waited flush_seconds to be committed."""
        # pragma: no mutate start - when answers are committed, not what: a crash leaves
        # more or fewer open attempts to replay, and a replay is looked up, never re-sent
        # blindly (test_flushes pins that answers are committed within a pass)
        return time.monotonic() - self._last_flush >= self._settings.flush_seconds
        # pragma: no mutate end

    def _admitted(self, attempt: Attempt) -> Attempt | None:
        """A run cap's say before an attempt is sent; None stops the pass. A replay the
        cap refuses is looked up all the same, which moves no money: it is sent as a
        look-up only, and stays open if the provider has no charge under its key."""
        refused = self._limits.admit(attempt)
        if refused is None:
            return attempt
        if attempt.replay:
            if attempt.no_resend is not None:
                return attempt  # looked up only already
            self._observer.note(refused)  # an operator must raise the cap to settle it
            return attempt._replace(no_resend=KeepOpen(refused))
        self._capped = refused  # the first refusal, as both loops stop at it
        return None

    def _hand_back(self, work: Work, now: datetime) -> None:
        """Hand back the first-charge declines of this pass not handed back yet: no
        dunning step, no notice. Run in the transaction that records the answer that
        tripped the breaker (and each later one), so no commit leaves a decline the
        breaker counted with its dunning step. What the ledger handed back is taken out
        of the declines counted."""
        invoice_ids = self._limits.declined_first[self._handed :]
        if not invoice_ids:
            return
        # handing back again what was handed back moves and counts nothing (those are
        # PENDING now): how far the list was handed back is speed only
        self._handed = len(self._limits.declined_first)  # pragma: no mutate
        for status, currency, minor in work.hand_back_declines(
            run_id=self._run_id, now=now, invoice_ids=invoice_ids
        ):
            self.counts.hand_back(status, currency, minor)

    def _call(self, attempt: Attempt) -> CallResult | None:
        return call_provider(
            self._provider, attempt, self._settings.retry, self._stop.event, self._clock
        )

    def _claim(self, source: Source) -> list[Attempt] | None:
        """Record the answers so far and claim the next batch, in one transaction."""
        now = self._clock()
        with self._store.work() as work:
            self._heartbeat(work, now)
            settled = self._settle(work, now)
            batch = source.next_batch(work, now, self._settings.batch_size)
        self._settled(settled)
        if batch is None:
            return None
        for row, rejection in batch.rejected:
            if held_status(rejection) is InvoiceStatus.AWAITING_CUSTOMER:
                self.counts.add_awaiting(row)  # the card said never: not an operator's
            else:
                self.counts.add_operator_item(row.id, rejection)
            self._observer.rejected(row, rejection)
        for held in batch.held:
            if self._first_time(held):
                self.counts.add_operator_item(held.invoice_id, held.rejection)
                self._observer.held(held.invoice_id, held.rejection)
        if self._failpoints:
            for attempt in batch.attempts:
                self._failpoints.hit(fp.AFTER_ATTEMPT_COMMIT, attempt.invoice.id)
        return batch.attempts

    def _record(self, attempt: Attempt, result: CallResult) -> None:
        if self._failpoints:
            self._failpoints.hit(fp.AFTER_PROVIDER_CHARGE, attempt.invoice.id)
        try:
            day = attempt.local_date or self._company_date
            transition = settle(result, attempt.dunning, day, self._schedule)
        except (ValueError, OverflowError) as exc:  # a value at a limit the rules cannot hold
            # pragma: no mutate start - unreachable by any input found (the dunning rules
            # absorb a date past year 9999 themselves); kept so that one holds its invoice
            transition = unrecordable(result, attempt.dunning, f"{type(exc).__name__}: {exc}")
            # pragma: no mutate end
        settled = Settled(attempt, result, transition)
        self._done.append(settled)
        self._observer.settled(settled)
        tripped = self._limits.answered(attempt, result)
        # the limits trip once: no later reason comes to take the first one's place
        if tripped is not None and self._tripped is None:  # pragma: no mutate
            self._tripped = tripped
        if lost_to_the_network(result):
            self._unknown_results += 1
            self._unknown_streak += 1
            if self._unknown_streak >= self._settings.outage_threshold and self._outage is None:
                self._outage = (
                    f"provider outage: {words.counted(self._unknown_streak, 'invoice')} in a row "
                    f"ended in network failures (last: {result.detail}); the rest were left "
                    "untouched"
                )
        else:
            self._answered = True
            self._unknown_streak = 0

    def _flush(self) -> None:
        if not self._done:
            return  # the clock was reset by the claim before any answer
        now = self._clock()
        with self._store.work() as work:
            self._heartbeat(work, now)
            settled = self._settle(work, now)
        self._settled(settled)

    def _settle(self, work: Work, now: datetime) -> bool:
        if not self._done:
            return False
        held = work.settle(run_id=self._run_id, now=now, settled=self._done)
        self._count(held)
        if self._tripped is not None:
            self._hand_back(work, now)
        replayed = [done.attempt.id for done in self._done if done.attempt.replay]
        if replayed:
            late = work.hand_back_late_declines(now=now, attempt_ids=replayed)
            for status, currency, minor in late:
                self.counts.hand_back(status, currency, minor)
        return True

    def _count(self, held: list[Held]) -> None:
        """Tally the batch as it was recorded: a held invoice counts for an operator."""
        counts, by_attempt = self.counts, {h.attempt_id: h for h in held}
        for settled in self._done:
            # an empty mapping finds nothing either: the test only skips the look-up
            found = by_attempt.get(settled.attempt.id) if by_attempt else None  # pragma: no mutate
            if found is None:
                counts.add_settled(settled)
            elif self._first_time(found):
                counts.add_held(settled, found.rejection)
                self._observer.held(found.invoice_id, found.rejection)

    def _first_time(self, held: Held) -> bool:
        """An attempt that stays open is held again by every later phase: count it once.
        A hold that wrote no attempt row is its invoice's: each is counted."""
        key = (held.attempt_id, held.invoice_id)
        if key in self._held:
            return False
        self._held.add(key)
        return True

    def _settled(self, any_settled: bool) -> None:
        """After the commit: forget the recorded answers; a batch boundary for failpoints."""
        self._last_flush = time.monotonic()
        if not any_settled:
            return
        self._done = []
        self._flushed += 1
        if self._failpoints:
            self._failpoints.hit(fp.BETWEEN_BATCHES, self._flushed)

    def salvage(self) -> None:
        """After an error: commit the answers already received, if the lock is still ours.
        Whatever cannot be committed is recovered by the next pass's replay."""
        with contextlib.suppress(Exception):
            self._flush()

    def _heartbeat(self, work: Work, now: datetime) -> None:
        """Fencing: every write transaction first proves the lock is still this run's."""
        work.heartbeat(self._run_id, now, self.counts.as_columns())
        self._last_heartbeat = time.monotonic()

    def _keep_lease(self) -> None:
        """Renew the lease while a long pass has nothing to write."""
        if self._lease_due():
            with self._store.work() as work:
                self._heartbeat(work, self._clock())

    def _lease_due(self) -> bool:
        # pragma: no mutate start - how often the lease is renewed, within its margin: a
        # renewal a moment early or late changes no result (test_lease pins that it is)
        return time.monotonic() - self._last_heartbeat >= runs.HEARTBEAT_EVERY.total_seconds()
        # pragma: no mutate end

    def _release(self, attempts: list[Attempt]) -> None:
        """Hand back claimed invoices that were never sent. Replays stay open: their
        keys may already have moved money, so only a later replay may settle them."""
        fresh = [attempt for attempt in attempts if not attempt.replay]
        if not fresh:
            return
        now = self._clock()
        with self._store.work() as work:
            self._heartbeat(work, now)
            work.release(run_id=self._run_id, now=now, attempts=fresh)
        self.counts.released += len(fresh)  # pragma: no mutate - once a pass: it then stops


def _room(inflight: dict[Future[CallResult | None], Attempt], concurrency: int) -> bool:
    """Whether one more call may be sent now."""
    # pragma: no mutate start - equivalent: `<=` would submit one call more than the pool
    # has threads, to wait in its queue; the calls in flight stay at `concurrency`
    return len(inflight) < concurrency
    # pragma: no mutate end
