"""Wiring shared by `bill` and `retry-failed`: options in, one service call, result out."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType
from typing import NoReturn

import typer

from antaeus_cli.billing.admission import admit
from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.preview import preview_pass
from antaeus_cli.billing.refused_start import record_refused_start
from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.billing.service import PassRequest, Runtime, run_pass
from antaeus_cli.cli import options as opt
from antaeus_cli.cli.boundary import exit_code_for_pass, print_error
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.cli.progress import observer_for
from antaeus_cli.cli.render_pass import render_pass, render_preview
from antaeus_cli.domain import clock
from antaeus_cli.domain.guards import AmountGuard
from antaeus_cli.domain.purpose import provider_refusal
from antaeus_cli.errors import AntaeusError, ProviderSpecError, StoppedBeforeStart
from antaeus_cli.failpoints import Failpoints
from antaeus_cli.host import current_process, is_alive
from antaeus_cli.provider import registry
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.provider.spec import ProviderSpec
from antaeus_cli.store.database import Store, read_only


@dataclass(frozen=True, slots=True, kw_only=True)
class PassOptions:
    """What `bill` and `retry-failed` were asked, as each command builds it from its
    own parameters."""

    command: Command
    as_of: str | None
    tz: str | None
    concurrency: int
    dry_run: bool
    json_output: bool
    provider: str | None
    dunning: str | None
    outage_threshold: int
    network_tries: int
    backoff_ms: int
    max_rate: float | None
    batch_size: int
    max_total: tuple[str, ...]  # CUR=AMOUNT, as given: read with the other settings
    breaker_rate: float
    breaker_window: int
    amount_guard: AmountGuard  # every path's (domain.judgement)
    invoice_ids: tuple[int, ...] = ()
    metrics_file: Path | None = None


def run_command(db_path: Path, options: PassOptions) -> NoReturn:
    """Run one pass with these options, render its result, and exit with its code."""
    now = datetime.now(UTC)
    # The moment asked for, typed by hand: a mistake in it is told, and no run is
    # recorded as of a moment that cannot be read or has not come yet.
    as_of = opt.as_of(options.as_of, now)
    if not options.dry_run and clock.ahead_of(as_of, now):
        raise typer.BadParameter(
            f"{options.as_of} is later than now ({now:%Y-%m-%dT%H:%MZ}): a pass charges what "
            "is due by now, never ahead of it; --dry-run shows what a later moment would do",
            param_hint="'--as-of'",
        )
    start = _start(db_path, options, as_of, now)
    settings = start.settings
    stop = StopRequest()
    if options.dry_run:
        preview = read_only(
            db_path,
            lambda store: preview_pass(
                store,
                options.command,
                settings.clock,
                invoice_ids=options.invoice_ids,
                batch_size=options.batch_size,
                amount_guard=options.amount_guard,
                limits=settings.limits,
                refused_unsent=registry.refused_unsent(start.spec),
            ),
        )
        render_preview(preview, json_output=options.json_output)
        raise typer.Exit(ExitCode.OK)
    store = Store.open(db_path)
    try:
        started = time.monotonic()
        provider = _open_provider(store, start, options, stop, started)
        try:
            result = _run(store, provider, options, settings, start.failpoints, stop)
        finally:
            provider.close()
        try:
            _write_metrics(store, options, result, time.monotonic() - started)
        except AntaeusError as exc:  # the pass happened: say what it did all the same
            unwritten: str | None = exc.message
        else:
            unwritten = None
    finally:
        store.close()
    code = exit_code_for_pass(result)
    render_pass(result, code, json_output=options.json_output)
    if result.error is not None:  # the one error line, as for any other, and the truth
        print_error(result.stop_reason or result.error.message)
    if unwritten is not None:
        print_error(f"the pass ran as shown, but its metrics were not written: {unwritten}")
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class _Start:
    """Every setting of a pass, read and checked before it begins."""

    settings: PassSettings
    spec: ProviderSpec
    failpoints: Failpoints


PROVIDER_NOT_READ = "(none: refused before the provider setting was read)"
UNUSABLE_PROVIDER = "(a provider setting that could not be used)"


@dataclass(slots=True)
class _Refusal:
    """What a pass refused before it began is recorded with: as much as was read of
    its settings before the one that refused it."""

    clock: clock.PassClock
    provider: str = PROVIDER_NOT_READ
    metrics: bool = False  # the --metrics-file was checked: the refusal may write it


def _start(db_path: Path, options: PassOptions, as_of: clock.AsOf, now: datetime) -> _Start:
    """Read every setting of the pass, the options and the variables they default to:
    the --metrics-file (refused now, not after the pass has charged), the company zone,
    the provider's spec, the dunning schedule, the run's limits, the failpoints.

    The one refusal path of a pass's start: a setting that cannot be used stops
    billing, and is recorded, and told, as any pass refused before it began (see
    `_refuse`), its message unchanged. Not for a dry run, which writes nothing. A
    provider spec's text is never recorded, only the reason, which names no secret."""
    refusal = _Refusal(clock.PassClock(as_of, UTC, not_after=now))
    try:
        if options.metrics_file is not None:
            from antaeus_cli.cli.metrics import check_target

            check_target(options.metrics_file, db_path)
        refusal.metrics = True
        company = opt.company_zone(options.tz)
        if not options.dry_run:
            _refuse_a_zone_ahead(clock.PassClock(as_of, company), now)
        refusal.clock = clock.PassClock(as_of, company, not_after=now)
        refusal.provider = UNUSABLE_PROVIDER
        spec = opt.provider_spec(options.provider)
        refusal.provider = spec.redacted()
        settings = _settings(options, as_of, company, now)
        failpoints = Failpoints.from_env(os.environ)
    except (AntaeusError, typer.BadParameter) as exc:
        if not options.dry_run:
            _refuse_unopened(db_path, options, refusal, _message(exc))
        raise
    return _Start(settings, spec, failpoints)


def _refuse_a_zone_ahead(judged: clock.PassClock, now: datetime) -> None:
    """A company zone further ahead of UTC than any place (a machine TZ such as XXX-24)
    would judge a date that has begun nowhere yet: a real pass refuses it."""
    if judged.ahead_of(now):
        raise typer.BadParameter(
            f"the company zone (the machine's TZ) puts this moment on {judged.company_date}, "
            "a date that has begun nowhere yet (no place is more than 14 hours ahead of "
            "UTC); set ANTAEUS_TZ or --tz to an IANA zone such as Europe/Copenhagen",
            param_hint="'--tz'",
        )


def _settings(
    options: PassOptions, as_of: clock.AsOf, company: tzinfo | None, now: datetime
) -> PassSettings:
    """The dunning schedule and the run's limits read, with the rest. A moment later
    than now (or a company zone ahead of every place) is one only a dry run may look
    at; any other moment is judged as a real pass judges it, the dry run's included (no
    customer's date later than it is where they are now), so that a dry run says what
    the pass it previews does."""
    ahead = clock.ahead_of(as_of, now) or clock.PassClock(as_of, company).ahead_of(now)
    return PassSettings(
        as_of=as_of,
        company_zone=company,
        not_after=None if options.dry_run and ahead else now,
        schedule=opt.dunning_schedule(options.dunning),
        concurrency=options.concurrency,
        batch_size=options.batch_size,
        outage_threshold=options.outage_threshold,
        max_rate=options.max_rate,
        limits=opt.run_limits(options.max_total, options.breaker_rate, options.breaker_window),
        amount_guard=options.amount_guard,
        retry=RetryPolicy(
            max_calls=options.network_tries,
            first_wait=options.backoff_ms / 1000,
            max_wait=max(2.0, 4 * options.backoff_ms / 1000),
            jitter=options.backoff_ms / 1000,
        ),
    )


def _write_metrics(
    store: Store, options: PassOptions, result: PassResult | None, seconds: float
) -> None:
    """`--metrics-file`: the pass's outcome, with the health of billing after it. A
    pass refused before it began writes its file too; if that fails, the refusal is
    still the error the command reports."""
    if options.metrics_file is None:
        return
    from antaeus_cli.cli.metrics import write_pass
    from antaeus_cli.domain.health import Thresholds
    from antaeus_cli.health import check

    health = check(store, now=datetime.now(UTC), limits=Thresholds(), is_alive=is_alive)
    write_pass(options.metrics_file, options.command.value, result, seconds, health)


def _open_provider(
    store: Store, start: _Start, options: PassOptions, stop: StopRequest, started: float
) -> PaymentProvider:
    """The provider, once this database may charge through it, its credentials were
    accepted, and its account is the database's. Before anything is claimed; a refusal
    is recorded as any pass refused before it began."""
    spec = start.spec
    try:
        refused = provider_refusal(
            store.purpose,
            spec.scheme,
            named=opt.provider_named(options.provider),
            setting=opt.PROVIDER_ENV,
        )
        if refused is not None:
            raise ProviderSpecError(refused)
        with signals_stop_at_once():  # the provider's first request may take a while
            provider = registry.open_provider(
                spec, db_path=store.path, failpoints=start.failpoints, stop=stop.event
            )
        try:
            admit(store, provider)
        except BaseException:
            provider.close()
            raise
    except AntaeusError as exc:
        refusal = _Refusal(start.settings.clock, spec.redacted(), metrics=True)
        _refuse(store, options, refusal, exc.message, time.monotonic() - started)
        raise
    return provider


def _message(error: AntaeusError | typer.BadParameter) -> str:
    """The refusal's reason: the error line's text, without its prefix."""
    return error.message if isinstance(error, AntaeusError) else error.format_message()


def _refuse_unopened(db_path: Path, options: PassOptions, refusal: _Refusal, reason: str) -> None:
    """`_refuse`, with the database opened for it. Best effort: a database that cannot
    be opened (none at --db) cannot record it, and says so itself once the setting is
    fixed."""
    try:
        store = Store.open(db_path)
    except (AntaeusError, OSError):  # the setting is the error to report
        return
    try:
        _refuse(store, options, refusal, reason, 0.0)
    finally:
        store.close()


def _refuse(
    store: Store, options: PassOptions, refusal: _Refusal, reason: str, seconds: float
) -> None:
    """A pass refused before it began, whatever refused it (a setting, the provider,
    its credentials), is recorded as a failed run with its reason and the operator's
    summary of it queued, and writes its --metrics-file once that was checked. The
    refusal stays the error the command reports."""
    record_refused_start(
        store,
        command=options.command,
        clock=refusal.clock,
        provider=refusal.provider,
        reason=reason,
        now=datetime.now(UTC),
        me=current_process(),
        is_alive=is_alive,
    )
    if refusal.metrics:
        with contextlib.suppress(AntaeusError):  # the refusal is the error to report
            _write_metrics(store, options, None, seconds)


def _run(
    store: Store,
    provider: PaymentProvider,
    options: PassOptions,
    settings: PassSettings,
    failpoints: Failpoints,
    stop: StopRequest,
) -> PassResult:
    request = PassRequest(options.command, settings, options.invoice_ids)
    _tune_garbage_collector()
    with observer_for(options, sys.stderr) as observer, signals_stop(stop):
        runtime = Runtime(
            clock=lambda: datetime.now(UTC),
            stop=stop,
            observer=observer,
            me=current_process(),
            is_alive=is_alive,
            failpoints=failpoints,
        )
        return run_pass(store, provider, request, runtime)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_stop(stop: StopRequest) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (the terminal or the ssh session went away) ask the
    pass to wind down: nothing more is claimed or sent, and a request in flight gets a
    moment's grace (`waits.STOP_GRACE_S`) before the provider cuts it. A second signal
    stops it at once."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.event.is_set():
            raise KeyboardInterrupt(name)
        stop.request(
            f"received {name}; stopped claiming and sending; what was in flight is recorded, "
            "or left open for the next pass to look up"
        )

    with _handling(handle):
        yield


@contextlib.contextmanager
def signals_stop_then_hurry(stop: StopRequest, hurry: threading.Event) -> Iterator[None]:
    """For `notify`: the first stop signal stops it between notices, giving the one in
    flight a moment's grace; a second cuts that one at once. Either way it ends as a
    stopped run (exit 3), with its line."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.event.is_set():
            hurry.set()
            return
        stop.request(f"received {signal.Signals(signum).name}")

    with _handling(handle):
        yield


@contextlib.contextmanager
def signals_stop_at_once() -> Iterator[None]:
    """Before the pass begins (the provider's credentials checked by a first request),
    a stop signal ends the command at once: nothing was claimed, so nothing winds down."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        raise StoppedBeforeStart(
            f"received {signal.Signals(signum).name} while the provider was checked, "
            "before the pass began: nothing was claimed or charged"
        )

    with _handling(handle):
        yield


@contextlib.contextmanager
def _handling(handle: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """`handle` for every stop signal while the block runs; the previous handlers after."""
    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _tune_garbage_collector() -> None:
    """A pass allocates millions of short-lived, acyclic tuples. Freezing what start-up
    allocated and collecting the young generation less often cuts the collector's share
    of a large pass from about 9% to 1%; everything is still collected. What is garbage
    already is collected first, never frozen: a frozen cycle lives as long as the
    process, with whatever it holds open (a database connection, in a process that
    runs more than one command)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
