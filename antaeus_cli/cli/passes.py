"""Wiring shared by `bill` and `retry-failed`: options in, one service call, result out."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
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
from antaeus_cli.domain.limits import RunLimits
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
    limits: RunLimits
    amount_guard: AmountGuard  # every path's (domain.judgement)
    invoice_ids: tuple[int, ...] = ()
    metrics_file: Path | None = None


def run_command(db_path: Path, options: PassOptions) -> NoReturn:
    """Run one pass with these options, render its result, and exit with its code."""
    now = datetime.now(UTC)
    as_of = opt.as_of(options.as_of, now)
    company = opt.company_zone(options.tz)
    # A moment later than now: a real pass refuses it, and only a dry run looks ahead.
    # Any other moment is judged as a real pass judges it, the dry run's included
    # (no customer's date later than it is where they are now), so that a dry run says
    # what the pass it previews does.
    ahead = clock.ahead_of(as_of, now) or clock.PassClock(as_of, company).ahead_of(now)
    if not options.dry_run and clock.ahead_of(as_of, now):
        raise typer.BadParameter(
            f"{options.as_of} is later than now ({now:%Y-%m-%dT%H:%MZ}): a pass charges what "
            "is due by now, never ahead of it; --dry-run shows what a later moment would do",
            param_hint="'--as-of'",
        )
    if not options.dry_run and clock.PassClock(as_of, company).ahead_of(now):
        raise typer.BadParameter(
            f"the company zone (the machine's TZ) puts this moment on "
            f"{clock.PassClock(as_of, company).company_date}, a date that has begun nowhere "
            "yet (no place is more than 14 hours ahead of UTC); set ANTAEUS_TZ or --tz to "
            "an IANA zone such as Europe/Copenhagen",
            param_hint="'--tz'",
        )
    settings = _settings(options, as_of, company, now, ahead=ahead)
    spec = _provider_spec(db_path, options, settings)
    failpoints = Failpoints.from_env(os.environ)
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
                limits=options.limits,
            ),
        )
        render_preview(preview, json_output=options.json_output)
        raise typer.Exit(ExitCode.OK)
    store = Store.open(db_path)
    try:
        started = time.monotonic()
        try:
            provider = _open_provider(store, spec, options, settings, failpoints, stop)
        except AntaeusError:
            with contextlib.suppress(AntaeusError):  # the refusal is the error to report
                _write_metrics(store, options, None, time.monotonic() - started)
            raise
        try:
            result = _run(store, provider, options, settings, failpoints, stop)
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


def _settings(
    options: PassOptions,
    as_of: clock.AsOf,
    company: tzinfo | None,
    now: datetime,
    *,
    ahead: bool,
) -> PassSettings:
    """`ahead`: the moment is later than now, which only a dry run may look at; any
    other pass reads no customer's date later than it is where they are now."""
    return PassSettings(
        as_of=as_of,
        company_zone=company,
        not_after=None if options.dry_run and ahead else now,
        schedule=opt.dunning_schedule(options.dunning),
        concurrency=options.concurrency,
        batch_size=options.batch_size,
        outage_threshold=options.outage_threshold,
        max_rate=options.max_rate,
        limits=options.limits,
        amount_guard=options.amount_guard,
        retry=RetryPolicy(
            max_calls=options.network_tries,
            first_wait=options.backoff_ms / 1000,
            max_wait=max(2.0, 4 * options.backoff_ms / 1000),
            jitter=options.backoff_ms / 1000,
        ),
    )


def _provider_spec(db_path: Path, options: PassOptions, settings: PassSettings) -> ProviderSpec:
    """The provider's spec, once the --metrics-file is known to be writable (refused
    now, not after the pass has charged). A spec that cannot be used (no key, a key
    file gone, a mistyped scheme) stops billing: it is recorded, and told, as any
    pass refused before it began."""
    if options.metrics_file is not None:
        from antaeus_cli.cli.metrics import check_target

        check_target(options.metrics_file, db_path)
    try:
        return opt.provider_spec(options.provider)
    except AntaeusError as exc:
        if not options.dry_run:
            _record_unusable_provider(db_path, options, settings, exc.message)
        raise


UNUSABLE_PROVIDER = "(a provider setting that could not be used)"


def _record_unusable_provider(
    db_path: Path, options: PassOptions, settings: PassSettings, reason: str
) -> None:
    """A provider setting that cannot be read (no key, a key file that is gone, an
    unknown scheme) is a pass refused before it began, recorded as any other. Its text
    is never recorded, only the reason, which names no secret. Best effort: a database
    that cannot be opened says so itself when the setting is fixed."""
    try:
        store = Store.open(db_path)
    except AntaeusError:
        return
    try:
        record_refused_start(
            store,
            command=options.command,
            clock=settings.clock,
            provider=UNUSABLE_PROVIDER,
            reason=reason,
            now=datetime.now(UTC),
            me=current_process(),
            is_alive=is_alive,
        )
        with contextlib.suppress(AntaeusError):  # the setting is the error to report
            _write_metrics(store, options, None, 0.0)
    finally:
        store.close()


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
    store: Store,
    spec: ProviderSpec,
    options: PassOptions,
    settings: PassSettings,
    failpoints: Failpoints,
    stop: StopRequest,
) -> PaymentProvider:
    """The provider, once this database may charge through it, its credentials were
    accepted, and its account is the database's. Before anything is claimed; a refusal
    is recorded as a run, with the operator's summary of it."""
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
                spec, db_path=store.path, failpoints=failpoints, stop=stop.event
            )
        try:
            admit(store, provider)
        except BaseException:
            provider.close()
            raise
    except AntaeusError as exc:
        record_refused_start(
            store,
            command=options.command,
            clock=settings.clock,
            provider=spec.redacted(),
            reason=exc.message,
            now=datetime.now(UTC),
            me=current_process(),
            is_alive=is_alive,
        )
        raise
    return provider


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
