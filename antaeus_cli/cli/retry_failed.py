"""`antaeus retry-failed`: charge declined invoices whose retry is due, or named ones."""

from __future__ import annotations

from typing import Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels
from antaeus_cli.domain.guards import DEFAULT_ANOMALY_FACTOR, DEFAULT_ANOMALY_HISTORY
from antaeus_cli.domain.limits import DEFAULT_BREAKER_RATE, DEFAULT_BREAKER_WINDOW


def command(
    ctx: typer.Context,
    as_of: opt.AsOf = None,
    tz: opt.Tz = None,
    invoice: Annotated[
        list[int] | None,
        typer.Option(
            "--invoice",
            metavar="ID",
            min=-(2**63),  # any row id: passes bill and hold those below 1 too
            max=2**63 - 1,
            help="Retry this invoice now, whatever its retry date (repeatable). Also takes "
            "NEEDS_OPERATOR, UNCOLLECTIBLE and AWAITING_CUSTOMER invoices once their cause "
            "is fixed.",
            rich_help_panel=panels.WHAT_TO_CHARGE,
        ),
    ] = None,
    dunning: opt.Dunning = None,
    dry_run: opt.DryRun = False,
    max_total: opt.MaxTotal = None,
    breaker_rate: opt.BreakerRate = DEFAULT_BREAKER_RATE,
    breaker_window: opt.BreakerWindow = DEFAULT_BREAKER_WINDOW,
    anomaly_factor: opt.AnomalyFactor = DEFAULT_ANOMALY_FACTOR,
    anomaly_history: opt.AnomalyHistory = DEFAULT_ANOMALY_HISTORY,
    outage_threshold: opt.OutageThreshold = 5,
    provider: opt.Provider = None,
    concurrency: opt.Concurrency = 8,
    max_rate: opt.MaxRate = None,
    network_tries: opt.NetworkTries = 4,
    backoff_ms: opt.BackoffMs = 200,
    json_output: opt.Json = False,
    metrics_file: opt.MetricsFile = None,
    batch_size: opt.BatchSize = 500,
) -> None:
    """Charge FAILED invoices whose retry date has begun in the customer's zone.

    A decline on the last scheduled retry makes the invoice UNCOLLECTIBLE.
    --invoice charges named invoices now; it refuses PAID and in-flight ones.
    """
    from antaeus_cli.billing.results import Command
    from antaeus_cli.cli.passes import PassOptions, run_command
    from antaeus_cli.domain.guards import AmountGuard

    options = PassOptions(
        command=Command.RETRY_FAILED,
        as_of=as_of,
        tz=tz,
        concurrency=concurrency,
        dry_run=dry_run,
        json_output=json_output,
        provider=provider,
        dunning=dunning,
        outage_threshold=outage_threshold,
        network_tries=network_tries,
        backoff_ms=backoff_ms,
        max_rate=max_rate,
        batch_size=batch_size,
        max_total=tuple(max_total or ()),
        breaker_rate=breaker_rate,
        breaker_window=breaker_window,
        amount_guard=AmountGuard(anomaly_factor, anomaly_history),
        invoice_ids=tuple(dict.fromkeys(invoice or ())),
        metrics_file=metrics_file,
    )
    run_command(ctx.obj.db_path, options)
