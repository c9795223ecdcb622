"""`antaeus notify`: deliver the pending notices of the outbox, then exit."""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels

NOTIFY_ENV = "ANTAEUS_NOTIFY"


def command(
    ctx: typer.Context,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="SPEC",
            help="Where notices go: 'smtp://HOST:PORT?from=ADDR&operator=ADDR&starttls=1', "
            "'maildir://PATH?from=ADDR&operator=ADDR', or "
            "'webhook://HOST/PATH?secret_file=FILE'. "
            f"Default: ${NOTIFY_ENV}. Passwords only through ${NOTIFY_ENV} or a *_file.",
            show_default=False,
            rich_help_panel=panels.CHANNEL,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would be delivered; send and change nothing.",
            rich_help_panel=panels.WHAT_TO_DELIVER,
        ),
    ] = False,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            min=0,
            metavar="N",
            help="Deliver at most N notices (0: all that are due).",
            rich_help_panel=panels.WHAT_TO_DELIVER,
        ),
    ] = 0,
    tz: opt.NotifyTz = None,
    json_output: opt.Json = False,
    metrics_file: opt.MetricsFile = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            max=10_000,
            metavar="N",
            help="Notices claimed per transaction.",
            rich_help_panel=panels.DATABASE,
        ),
    ] = 200,
    lease: Annotated[
        int,
        typer.Option(
            "--lease",
            metavar="SECONDS",
            min=1,
            max=86_400,
            help="How long a claimed batch is this run's alone; after a crash, its notices "
            "wait this long before another run sends them again.",
            rich_help_panel=panels.DATABASE,
        ),
    ] = 600,
) -> None:
    """Deliver pending receipts, decline notices and run summaries, then exit.

    Run it from cron every few minutes; `bill` and `retry-failed` never wait for it.
    A notice waits until the run that recorded it has ended. Delivery is at least
    once: a crash between sending and marking sends it again, under the same
    Message-ID or event id.
    """
    from antaeus_cli.billing.engine import StopRequest
    from antaeus_cli.channels import spec as channel_spec
    from antaeus_cli.cli.boundary import exit_code_for_notify
    from antaeus_cli.cli.exit_codes import ExitCode
    from antaeus_cli.cli.passes import signals_stop_then_hurry
    from antaeus_cli.cli.render_notify import render_notify, render_notify_preview
    from antaeus_cli.failpoints import Failpoints
    from antaeus_cli.host import current_process
    from antaeus_cli.notify.messages import preview
    from antaeus_cli.notify.service import deliver_pending
    from antaeus_cli.notify.settings import NotifyRuntime, NotifySettings
    from antaeus_cli.store.database import Store, read_only

    spec = opt.notify_spec(notify, NOTIFY_ENV)
    settings = NotifySettings(
        company=spec.company,
        batch_size=batch_size,
        limit=limit or None,
        lease=timedelta(seconds=lease),
        company_zone=opt.company_zone(tz),
    )
    failpoints = Failpoints.from_env(os.environ)
    channel = channel_spec.open_channel(spec)
    if dry_run:
        now = datetime.now(UTC)
        shown = read_only(ctx.obj.db_path, lambda store: preview(store, channel, settings, now))
        render_notify_preview(shown, json_output=json_output)
        raise typer.Exit(ExitCode.OK)
    store = Store.open(ctx.obj.db_path)
    try:
        stop, hurry = StopRequest(), threading.Event()
        me = current_process()
        runtime = NotifyRuntime(
            clock=lambda: datetime.now(UTC),
            stop=stop.event,
            owner=f"{me.host}/{me.pid}/{secrets.token_hex(4)}",
            failpoints=failpoints,
            hurry=hurry,
        )
        started = time.monotonic()
        with signals_stop_then_hurry(stop, hurry):
            result = deliver_pending(store, channel, settings, runtime)
        if metrics_file is not None:
            from antaeus_cli.cli.metrics import write_notify
            from antaeus_cli.domain.health import Thresholds
            from antaeus_cli.health import check
            from antaeus_cli.host import is_alive

            health = check(store, now=datetime.now(UTC), limits=Thresholds(), is_alive=is_alive)
            write_notify(metrics_file, result, time.monotonic() - started, health)
    finally:
        store.close()
    code = exit_code_for_notify(result)
    render_notify(result, code, json_output=json_output)
    raise typer.Exit(code)
