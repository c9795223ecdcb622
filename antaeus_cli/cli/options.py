"""Options shared by several commands, and turning their text into checked values."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from antaeus_cli.domain.dates import parse_iso_date
from antaeus_cli.domain.dunning import DunningSchedule, ScheduleError
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider import registry
from antaeus_cli.provider.spec import DEFAULT_SPEC, ProviderSpec

PROVIDER_ENV = "ANTAEUS_PROVIDER"
DUNNING_ENV = "ANTAEUS_DUNNING"

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Act as if today were DATE (YYYY-MM-DD). Default: today, local time zone.",
        show_default=False,
    ),
]
Provider = Annotated[
    str,
    typer.Option(
        "--provider",
        envvar=PROVIDER_ENV,
        metavar="SPEC",
        help="Payment provider, e.g. 'sim://?latency_ms=50&network_error_rate=0.1&seed=7'. "
        "Credentials only via the environment, never on the command line.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be charged; change nothing.")
]
Concurrency = Annotated[
    int,
    typer.Option(
        "--concurrency", min=1, max=256, help="Provider calls in flight at once (network only)."
    ),
]
BatchSize = Annotated[
    int,
    typer.Option("--batch-size", min=1, max=10_000, help="Invoices claimed per transaction."),
]
Dunning = Annotated[
    str,
    typer.Option(
        "--dunning",
        envvar=DUNNING_ENV,
        metavar="DAYS",
        help="Retry days after the first decline, e.g. 1,3,7; after the last, UNCOLLECTIBLE.",
    ),
]
OutageThreshold = Annotated[
    int,
    typer.Option(
        "--outage-threshold",
        min=1,
        max=10_000,
        help="Stop (exit 3) after this many invoices in a row end in network failure.",
    ),
]
NetworkTries = Annotated[
    int,
    typer.Option(
        "--network-tries",
        min=1,
        max=20,
        help="Calls per idempotency key before its outcome is left unknown for a later pass.",
    ),
]


def as_of_date(text: str | None) -> date:
    if text is None:
        return date.today()  # noqa: DTZ011 - "today" is the operator's local calendar day
    try:
        return parse_iso_date(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--as-of'") from None


def dunning_schedule(text: str) -> DunningSchedule:
    try:
        return DunningSchedule.parse(text)
    except ScheduleError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--dunning'") from None


def provider_spec(ctx: typer.Context, text: str) -> ProviderSpec:
    """Resolve the spec; refuse credentials typed on the command line."""
    spec = registry.resolve(text or DEFAULT_SPEC)
    source = ctx.get_parameter_source("provider")
    if spec.carries_secrets and source is not None and source.name == "COMMANDLINE":
        raise ProviderSpecError(
            f"the provider spec {spec.redacted()!r} carries credentials; pass it through "
            f"{PROVIDER_ENV} instead of --provider, where other users can read it in 'ps'"
        )
    return spec


BackoffMs = Annotated[
    int,
    typer.Option(
        "--backoff-ms",
        min=0,
        max=60_000,
        help="First wait before re-sending a lost request; it doubles each time, plus jitter.",
    ),
]
