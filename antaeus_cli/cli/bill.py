"""`antaeus bill`: one pass over the PENDING invoices that are due."""

from __future__ import annotations

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.domain.guards import (
    DEFAULT_ANOMALY_FACTOR,
    DEFAULT_ANOMALY_HISTORY,
    AmountGuard,
)
from antaeus_cli.domain.limits import DEFAULT_BREAKER_RATE, DEFAULT_BREAKER_WINDOW


def command(
    ctx: typer.Context,
    as_of: opt.AsOf = None,
    tz: opt.Tz = None,
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
    """Charge every PENDING invoice whose due date has begun in its customer's zone.

    Open attempts left by a crash are replayed first, under their original
    idempotency keys. Missed months are caught up, so it is safe to run hourly.
    """
    from antaeus_cli.billing.results import Command
    from antaeus_cli.cli.passes import PassOptions, run_command

    options = PassOptions(
        command=Command.BILL,
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
        metrics_file=metrics_file,
    )
    run_command(ctx.obj.db_path, options)
