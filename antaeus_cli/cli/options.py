"""Options shared by several commands, and turning their text into checked values."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from antaeus_cli.cli import panels
from antaeus_cli.credentials import called
from antaeus_cli.domain.dates import parse_iso_date
from antaeus_cli.domain.dunning import DunningSchedule, ScheduleError
from antaeus_cli.domain.limits import RunLimits, parse_cap
from antaeus_cli.domain.money import Currency
from antaeus_cli.errors import InputError, NotifySpecError, ProviderSpecError
from antaeus_cli.provider.spec import DEFAULT_SPEC, ProviderSpec, parse_spec

if TYPE_CHECKING:
    from antaeus_cli.channels.spec import NotifySpec
    from antaeus_cli.domain import clock

PROVIDER_ENV = "ANTAEUS_PROVIDER"
DUNNING_ENV = "ANTAEUS_DUNNING"
DEFAULT_DUNNING = "1,3,7"

TZ_ENV = "ANTAEUS_TZ"

SeedAsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Act as if today were DATE (YYYY-MM-DD). Default: today, local time zone.",
        show_default=False,
        rich_help_panel=panels.WHAT_TO_CREATE,
    ),
]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE|INSTANT",
        help="Run as of DATE (YYYY-MM-DD: every customer's date is DATE) or INSTANT with "
        "an offset (2026-11-30T23:30:00-08:00 or ...Z: each customer's date in their "
        "own zone). Default: now.",
        show_default=False,
        rich_help_panel=panels.WHAT_TO_CHARGE,
    ),
]


def _tz(panel: str) -> Any:  # typer.Option is typed Any
    return typer.Option(
        "--tz",
        metavar="ZONE",
        help=f"The company zone, for customers without one (an IANA name such as "
        f"Europe/Copenhagen). Default: ${TZ_ENV}, else the machine's zone.",
        show_default=False,
        rich_help_panel=panel,
    )


Tz = Annotated[str | None, _tz(panels.WHAT_TO_CHARGE)]
NotifyTz = Annotated[str | None, _tz(panels.WHAT_TO_DELIVER)]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider",
        metavar="SPEC",
        help="The payment provider: 'stripe://?api_key_file=FILE', or the simulator, "
        f"'sim://?seed=7'. Default: ${PROVIDER_ENV}, else sim:// on a database made by seed "
        "(a demo); a database made by init charges through a real provider only. "
        f"Credentials only through ${PROVIDER_ENV} or a *_file.",
        show_default=False,
        rich_help_panel=panels.PROVIDER,
    ),
]
Json = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the result as JSON on stdout.", rich_help_panel=panels.OUTPUT
    ),
]
MetricsFile = Annotated[
    Path | None,
    typer.Option(
        "--metrics-file",
        metavar="PATH",
        help="Also write Prometheus metrics (the textfile collector's format) to PATH, "
        "atomically; one file per command, as each run replaces it.",
        show_default=False,
        rich_help_panel=panels.OUTPUT,
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show what would be charged; charge and change nothing.",
        rich_help_panel=panels.WHAT_TO_CHARGE,
    ),
]
Concurrency = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        max=256,
        metavar="N",
        help="Provider calls in flight at once (network only).",
        rich_help_panel=panels.PROVIDER,
    ),
]
BatchSize = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        max=10_000,
        metavar="N",
        help="Invoices claimed per transaction.",
        rich_help_panel=panels.DATABASE,
    ),
]
MaxTotal = Annotated[
    list[str] | None,
    typer.Option(
        "--max-total",
        metavar="CUR=AMOUNT",
        help="Stop before the pass would charge more than AMOUNT (major units) in CUR, "
        "e.g. EUR=50000. Repeat per currency. A charge that would pass it is not sent.",
        rich_help_panel=panels.LIMITS,
    ),
]
BreakerRate = Annotated[
    float,
    typer.Option(
        "--breaker-rate",
        min=0.0,
        max=1.0,
        metavar="SHARE",
        help="Stop when more than SHARE of the pass's first --breaker-window first "
        "charges decline; those declines use no dunning step. 1 turns it off.",
        rich_help_panel=panels.LIMITS,
    ),
]
BreakerWindow = Annotated[
    int,
    typer.Option(
        "--breaker-window",
        min=1,
        max=1_000_000,
        metavar="N",
        help="How many first charges --breaker-rate judges a pass by.",
        rich_help_panel=panels.LIMITS,
    ),
]
AnomalyFactor = Annotated[
    int,
    typer.Option(
        "--anomaly-factor",
        min=0,
        max=1_000_000,
        metavar="TIMES",
        help="Hold an invoice of more than TIMES the median of its customer's paid invoices "
        "(amount_anomaly), before the provider hears of it. 0 turns the guard off.",
        rich_help_panel=panels.LIMITS,
    ),
]
AnomalyHistory = Annotated[
    int,
    typer.Option(
        "--anomaly-history",
        min=1,
        max=1_000_000,
        metavar="N",
        help="Judge a customer by --anomaly-factor only once they have N paid invoices.",
        rich_help_panel=panels.LIMITS,
    ),
]
Dunning = Annotated[
    str | None,
    typer.Option(
        "--dunning",
        metavar="DAYS",
        help="Retry days after the first decline; after the last, UNCOLLECTIBLE. "
        f"Default: ${DUNNING_ENV}, else 1,3,7. An empty schedule makes a decline final.",
        show_default=False,
        rich_help_panel=panels.WHAT_TO_CHARGE,
    ),
]
OutageThreshold = Annotated[
    int,
    typer.Option(
        "--outage-threshold",
        min=1,
        max=10_000,
        metavar="N",
        help="Stop (exit 3) once N invoices in a row end in network failure.",
        rich_help_panel=panels.LIMITS,
    ),
]
NetworkTries = Annotated[
    int,
    typer.Option(
        "--network-tries",
        min=1,
        max=20,
        metavar="N",
        help="Calls per idempotency key before its outcome is left unknown for a later pass.",
        rich_help_panel=panels.PROVIDER,
    ),
]


BackoffMs = Annotated[
    int,
    typer.Option(
        "--backoff-ms",
        min=0,
        max=60_000,
        metavar="MS",
        help="First wait before re-sending a lost request; it doubles each time, plus jitter, "
        "up to 2 s or four times MS, whichever is more.",
        rich_help_panel=panels.PROVIDER,
    ),
]


MaxRate = Annotated[
    float | None,
    typer.Option(
        "--max-rate",
        min=0.1,
        max=100_000,
        metavar="PER_SECOND",
        help="Send at most this many provider requests per second (retries included), "
        "as a provider's rate limit demands. Default: none; a network provider is paced "
        "by its own 429 answers.",
        show_default=False,
        rich_help_panel=panels.PROVIDER,
    ),
]


def as_of(text: str | None, now: datetime) -> clock.AsOf:
    """The pass's moment: the date or instant given, else now."""
    from antaeus_cli.domain import clock  # kept off --help's path

    if text is None:
        return clock.AsOf.at(now)
    try:
        return clock.AsOf.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--as-of'") from None


def instant(text: str, hint: str) -> datetime:
    """An instant with an offset, as UTC."""
    from antaeus_cli.domain import clock  # kept off --help's path

    try:
        parsed = clock.AsOf.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{hint}'") from None
    if parsed.instant is None:
        raise typer.BadParameter(
            "expected an instant with an offset, e.g. 2026-12-01T06:00:00Z", param_hint=f"'{hint}'"
        )
    return parsed.instant


def company_zone(given: str | None) -> tzinfo | None:
    """--tz, else ANTAEUS_TZ, else None: the machine's own zone."""
    text = given if given is not None else os.environ.get(TZ_ENV)
    if text is None:
        return None
    from antaeus_cli.domain import clock  # kept off --help's path

    try:
        return clock.parse_zone(text)
    except ValueError as exc:
        raise InputError(f"{'--tz' if given is not None else TZ_ENV}: {exc}") from None


def as_of_date(text: str | None) -> date:
    if text is None:
        return date.today()  # noqa: DTZ011 - "today" is the operator's local calendar day
    try:
        return parse_iso_date(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--as-of'") from None


def from_env(given: str | None, name: str, default: str, *, empty_ok: bool = False) -> str:
    """The option if given, else the environment variable, else the default.

    A variable that is set but empty is a value, not an absence: an empty
    schedule means "no retries", and an empty database or provider is refused
    rather than silently replaced by the default.
    """
    value = given if given is not None else os.environ.get(name, default)
    if not value.strip() and not empty_ok:
        where = "the option" if given is not None else name
        raise InputError(f"{where} is set but empty: give a value, or unset {name}")
    return value


def dunning_schedule(given: str | None) -> DunningSchedule:
    text = from_env(given, DUNNING_ENV, DEFAULT_DUNNING, empty_ok=True)
    try:
        return DunningSchedule.parse(text)
    except ScheduleError as exc:
        source = "--dunning" if given is not None else DUNNING_ENV
        raise InputError(f"{source}: {exc}") from None


def run_limits(max_total: Iterable[str], rate: float, window: int) -> RunLimits:
    caps: dict[Currency, int] = {}
    for text in max_total:
        try:
            currency, minor = parse_cap(text)
        except ValueError as exc:
            raise InputError(f"--max-total: {exc}") from None
        if currency in caps:
            raise InputError(f"--max-total: {currency} is given twice")
        caps[currency] = minor
    return RunLimits(max_total=caps, breaker_rate=rate, breaker_window=window)


def provider_spec(given: str | None) -> ProviderSpec:
    """Resolve the spec; refuse credentials typed on the command line."""
    text = from_env(given, PROVIDER_ENV, DEFAULT_SPEC)
    if given is not None:
        refuse_inline_credentials(parse_spec(text), "provider", PROVIDER_ENV, ProviderSpecError)
    from antaeus_cli.provider import registry  # kept off --help's path

    return registry.resolve(text)


def provider_named(given: str | None) -> bool:
    """Whether the provider was named (the option, or its variable), not defaulted."""
    return given is not None or PROVIDER_ENV in os.environ


def notify_spec(given: str | None, env: str) -> NotifySpec:
    """Resolve the notify spec; refuse credentials typed on the command line."""
    from antaeus_cli.channels import spec as channel_spec

    text = given if given is not None else os.environ.get(env, "")
    if not text.strip():
        raise NotifySpecError(
            f"no notify channel: pass --notify SPEC or set {env}, e.g. "
            "'maildir://mail?from=billing@example.com&operator=ops@example.com'"
        )
    if given is not None:
        refuse_inline_credentials(channel_spec.parse(text), "notify", env, NotifySpecError)
    return channel_spec.resolve(text)


def refuse_inline_credentials(
    spec: ProviderSpec, what: str, env: str, error: type[InputError]
) -> None:
    """A spec typed on the command line may name its secrets by file, never hold them:
    every user on the machine can read arguments in `ps`."""
    if spec.carries_secrets:
        held = [called(name) for name in sorted(spec.secret_names)]
        if spec.has_password:
            held.append("a password in the URL")
        raise error(
            f"the {what} spec carries credentials ({', '.join(held)}); pass it through {env} "
            f"or name them by a *_file= parameter, instead of --{what}, where other users "
            "can read it in 'ps'"
        )
