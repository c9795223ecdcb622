"""The billing service: one pass of `bill` or `retry-failed`, from lock to result.

Every pass first replays the keys of attempts an earlier run left open, so a
crash is reconciled before anything new is charged; then it charges what is due;
then it replays its own unknown outcomes a few more times before it ends.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime

from antaeus_cli import failpoints as fp
from antaeus_cli.billing.engine import Clock, Engine, PassSettings, StopRequest
from antaeus_cli.billing.pacing import most_at_once
from antaeus_cli.billing.refusals import RefusalWatch, refused_midway
from antaeus_cli.billing.results import (
    Command,
    Observer,
    Overdue,
    PassResult,
    Phase,
    RunStatus,
    run_summary,
)
from antaeus_cli.billing.sources import (
    ClaimContext,
    DueSource,
    NamedSource,
    OpenAttemptSource,
    Source,
    check_named,
)
from antaeus_cli.domain import overdue, waits
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.judgement import Path
from antaeus_cli.errors import AntaeusError, LockLost
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.store import claims, runs
from antaeus_cli.store.database import Store


@dataclass(frozen=True, slots=True)
class PassRequest:
    command: Command
    settings: PassSettings
    invoice_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a pass needs from the world outside the database and the provider."""

    clock: Clock
    stop: StopRequest
    observer: Observer
    me: ProcessIdentity
    is_alive: runs.Liveness
    failpoints: fp.Failpoints = fp.NONE


def run_pass(
    store: Store, provider: PaymentProvider, request: PassRequest, runtime: Runtime
) -> PassResult:
    settings = _within_the_bound(request.settings, provider, runtime.observer)
    if request.invoice_ids:
        with store.view() as view:
            guards = claims.Guards(settings.amount_guard)
            found = view.invoices_by_id(request.invoice_ids, guards)
            check_named(found, request.invoice_ids, settings.clock)
    clock = settings.clock
    started = runs.start_run(
        store,
        command=request.command.value,
        clock=clock,
        provider=provider.description,
        me=runtime.me,
        now=runtime.clock(),
        is_alive=runtime.is_alive,
    )
    run_id = started.run_id
    if started.took_over_from is not None:
        runtime.observer.note(
            f"run {started.took_over_from} ended without finishing (crash or kill); "
            "its open attempts are replayed first"
        )
    watch = RefusalWatch(provider, runtime.stop)
    engine = Engine(
        store,
        watch,
        settings,
        run_id=run_id,
        clock=runtime.clock,
        stop=runtime.stop,
        observer=runtime.observer,
        failpoints=runtime.failpoints,
    )
    context = ClaimContext(run_id, request.command.value, store.namespace, clock)
    try:
        _phases(engine, store, _work(store, request, context), settings.sweeps, clock)
    except LockLost:
        raise  # the run now belongs to the pass that took the lock over
    except KeyboardInterrupt:
        engine.salvage()
        _finish_quietly(
            store,
            engine,
            runtime,
            request=request,
            status=RunStatus.INTERRUPTED,
            reason="stopped at once by a second signal; the next run reconciles what was in flight",
        )
        raise
    except Exception as exc:
        engine.salvage()
        failure = exc.message if isinstance(exc, AntaeusError) else f"{type(exc).__name__}: {exc}"
        _finish_quietly(
            store, engine, runtime, request=request, status=RunStatus.FAILED, reason=failure
        )
        raise
    # Anything else (the process being torn down) leaves the run 'running': the next
    # pass finds its holder gone, marks it crashed and replays its open attempts.
    status, reason = engine.ending()
    with store.view() as view:
        engine.counts.unknown = view.count_open_attempts()
    now = runtime.clock()
    late = overdue_attempts(store, now)
    if late.total:
        runtime.observer.note(
            f"{late.total} open attempts are overdue: no pass could settle them, and money may "
            "have moved under their keys; 'antaeus report --section overdue-attempts' says what "
            "to do"
        )
    if watch.refused is not None:  # this outranks how the engine saw the pass end
        status, reason = RunStatus.FAILED, refused_midway(watch.refused, engine.counts)
    _reword_month_holds(store, run_id, engine, runtime.observer, now)
    runs.finish_run(
        store,
        run_id,
        status=status.value,
        reason=reason,
        counts=engine.counts.as_columns(),
        now=now,
        summary=run_summary(request.command, clock, status, reason, engine.counts, overdue=late),
    )
    return PassResult(
        run_id=run_id,
        command=request.command,
        as_of=clock.company_date,
        as_of_instant=clock.as_of.instant,
        provider=provider.description,
        status=status,
        stop_reason=reason,
        counts=engine.counts,
        unresolved=engine.counts.unknown,
        took_over_from=started.took_over_from,
        overdue=late,
        error=watch.refused,
    )


def _reword_month_holds(
    store: Store, run_id: int, engine: Engine, observer: Observer, now: datetime
) -> None:
    """What this pass charged, and what operators voided meanwhile, may have made a
    hold for the month untrue ("invoice 8 bills the same month", 8 now paid or void):
    such holds say what became of their twin (store.holds), under the pass's lock."""
    with store.work() as work:
        work.heartbeat(run_id, now, engine.counts.as_columns())
        reworded = work.refresh_month_holds(now=now)
    for invoice_id, text in reworded:
        observer.note(f"invoice {invoice_id} is still held for its month: {text}")


def overdue_attempts(store: Store, now: datetime) -> Overdue:
    """The open attempts a person must settle now (domain.overdue), read for display."""
    with store.view(any_text=True) as view:
        return Overdue.of(overdue.overdue(view.looked_up_often(), now))


def _within_the_bound(
    settings: PassSettings, provider: PaymentProvider, observer: Observer
) -> PassSettings:
    """At a fixed pace, no more calls at once than wait their rate slots within the
    bound on waits (`pacing.most_at_once`); they would add no speed, only waiting."""
    if settings.max_rate is None or not provider.waits_on_io:
        return settings  # no pace, or calls made one at a time: nothing waits in line
    most = most_at_once(settings.max_rate, provider.requests_per_charge)
    if settings.concurrency <= most:
        return settings
    observer.note(
        f"--concurrency {settings.concurrency} lowered to {most}: at --max-rate "
        f"{settings.max_rate:g} more calls would wait longer than {waits.MAX_WAIT_S:g} s "
        "for their turn"
    )
    return replace(settings, concurrency=most)


def _phases(engine: Engine, store: Store, work: Source, sweeps: int, clock: PassClock) -> None:
    engine.run_phase(Phase.RECONCILE, OpenAttemptSource(clock))
    if engine.stopping:
        return
    engine.run_phase(Phase.CHARGE, work)
    if isinstance(work, DueSource) and work.path is Path.BILL and not engine.stopping:
        # What a tripped breaker handed back, once this pass's fresh first charges have
        # been judged: they are not counted again, so a few customers whose cards
        # decline can trip a pass once, never every pass.
        again = work.handed_back()
        with store.view() as view:
            waiting = again.total(view)
        if waiting:
            engine.run_phase(Phase.CHARGE, again, breaker=False)
    previous = None
    for _ in range(sweeps):
        with store.view() as view:
            still_open = view.count_open_attempts()
        if engine.stopping or still_open in (0, previous):
            return
        previous = still_open
        engine.run_phase(Phase.SWEEP, OpenAttemptSource(clock))


def _work(store: Store, request: PassRequest, context: ClaimContext) -> Source:
    if request.invoice_ids:
        return NamedSource(request.invoice_ids, context, request.settings.amount_guard)
    return DueSource(
        path_for(request.command),
        zone_days(store, context.clock),
        context,
        request.settings.amount_guard,
        # the breaker judges a spread sample first, not the lowest ids (store.spread)
        sample=request.settings.limits.sample,
    )


def path_for(command: Command) -> Path:
    """The path of a scheduled pass (domain.judgement)."""
    return Path.BILL if command is Command.BILL else Path.RETRY


def zone_days(store: Store, clock: PassClock) -> claims.Days:
    """Each zone customers have, at the pass's moment: read once, converted once."""
    with store.view() as view:
        return claims.days_sql(clock.days(view.zones()))


def _finish_quietly(
    store: Store,
    engine: Engine,
    runtime: Runtime,
    *,
    request: PassRequest,
    status: RunStatus,
    reason: str,
) -> None:
    """Best effort: if even this write fails, the next pass marks the run crashed."""
    summary = run_summary(request.command, request.settings.clock, status, reason, engine.counts)
    with contextlib.suppress(Exception):
        runs.finish_run(
            store,
            engine.run_id,
            status=status.value,
            reason=reason,
            counts=engine.counts.as_columns(),
            now=runtime.clock(),
            summary=summary,
        )
