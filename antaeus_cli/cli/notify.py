"""`antaeus notify`: deliver the pending notices of the outbox, then exit."""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels
from antaeus_cli.errors import InputError

if TYPE_CHECKING:
    from antaeus_cli.billing.engine import StopRequest
    from antaeus_cli.channels.port import Channel
    from antaeus_cli.channels.spec import NotifySpec
    from antaeus_cli.notify.letters import Letters
    from antaeus_cli.notify.results import NotifyResult
    from antaeus_cli.notify.settings import NotifySettings

NOTIFY_ENV = "ANTAEUS_NOTIFY"
TEMPLATES_ENV = "ANTAEUS_TEMPLATES"


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
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            metavar="DIR",
            help="The company's notice templates and branding.toml, over the built-in "
            f"ones (docs/notices.md). Default: ${TEMPLATES_ENV}, else the built-in ones.",
            show_default=False,
            rich_help_panel=panels.TEMPLATES,
        ),
    ] = None,
    check_templates: Annotated[
        bool,
        typer.Option(
            "--check-templates",
            help="Render every notice in every language with specimens of every case; "
            "exit 2 naming each template that fails. Needs no channel or database.",
            rich_help_panel=panels.TEMPLATES,
        ),
    ] = False,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help="Print the e-mail --customer would receive for a notice of --kind: "
            "their latest one, else a specimen on their latest invoice. Sends and "
            "changes nothing.",
            rich_help_panel=panels.WHAT_TO_DELIVER,
        ),
    ] = False,
    customer: Annotated[
        int | None,
        typer.Option(
            "--customer",
            metavar="ID",
            min=-(2**63),
            max=2**63 - 1,
            help="The customer whose e-mail --preview prints.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_DELIVER,
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="The notice --preview prints: receipt, payment_failed, action_required "
            "or final_notice.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_DELIVER,
        ),
    ] = None,
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
    from antaeus_cli.notify.messages import preview as dry_run_of
    from antaeus_cli.notify.settings import NotifySettings
    from antaeus_cli.notify.specimens import open_letters as letters_of
    from antaeus_cli.store.database import read_only

    directory = templates if templates is not None else _templates_from_env()
    if check_templates:
        _check(directory, json_output=json_output)
    spec = opt.notify_spec(notify, NOTIFY_ENV)
    stop, hurry = StopRequest(), threading.Event()
    # From here a signal ends the run within seconds, exit 3: the templates' check too.
    with signals_stop_then_hurry(stop, hurry):
        zone = opt.company_zone(tz)
        letters = letters_of(directory, company=spec.named_company, stop=stop.event)
        if preview or customer is not None or kind is not None:
            _preview(ctx, letters, spec, (preview, kind, customer), zone, json_output=json_output)
        settings = NotifySettings(
            letters=letters,
            batch_size=batch_size,
            limit=limit or None,
            lease=timedelta(seconds=lease),
            company_zone=zone,
        )
        channel = channel_spec.open_channel(spec)
        if dry_run:
            now = datetime.now(UTC)
            shown = read_only(
                ctx.obj.db_path, lambda store: dry_run_of(store, channel, settings, now)
            )
            render_notify_preview(shown, json_output=json_output)
            raise typer.Exit(ExitCode.OK)
        result = _deliver(ctx.obj.db_path, channel, settings, (stop, hurry), metrics_file)
    code = exit_code_for_notify(result)
    render_notify(result, code, json_output=json_output)
    raise typer.Exit(code)


def _deliver(
    db_path: Path,
    channel: Channel,
    settings: NotifySettings,
    signals: tuple[StopRequest, threading.Event],
    metrics_file: Path | None,
) -> NotifyResult:
    """The run itself: deliver what is due; the metrics."""
    from antaeus_cli.failpoints import Failpoints
    from antaeus_cli.host import current_process
    from antaeus_cli.notify.service import deliver_pending
    from antaeus_cli.notify.settings import NotifyRuntime
    from antaeus_cli.store.database import Store

    stop, hurry = signals
    store = Store.open(db_path)
    try:
        me = current_process()
        runtime = NotifyRuntime(
            clock=lambda: datetime.now(UTC),
            stop=stop.event,
            owner=f"{me.host}/{me.pid}/{secrets.token_hex(4)}",
            failpoints=Failpoints.from_env(os.environ),
            hurry=hurry,
        )
        started = time.monotonic()
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
    return result


def _templates_from_env() -> Path | None:
    text = os.environ.get(TEMPLATES_ENV)
    if text is None:
        return None
    if not text.strip():
        raise InputError(f"{TEMPLATES_ENV} is set but empty: unset it, or name a directory")
    return Path(text)


def _check(directory: Path | None, *, json_output: bool) -> None:
    """Render every template with every specimen; exit 2 naming those that fail."""
    from antaeus_cli.cli.exit_codes import ExitCode
    from antaeus_cli.cli.render_notify import render_template_check
    from antaeus_cli.notify.specimens import check_templates

    checked = check_templates(directory)
    render_template_check(checked, json_output=json_output)
    raise typer.Exit(ExitCode.USAGE if checked.problems else ExitCode.OK)


def _preview(
    ctx: typer.Context,
    letters: Letters,
    spec: NotifySpec,
    asked: tuple[bool, str | None, int | None],
    zone: tzinfo | None,
    *,
    json_output: bool,
) -> None:
    """Print one customer's e-mail, as it would go; exit."""
    import sys

    from antaeus_cli.cli.exit_codes import ExitCode
    from antaeus_cli.cli.text import safe
    from antaeus_cli.domain.notices import NoticeKind
    from antaeus_cli.notify.letters import CUSTOMER_KINDS
    from antaeus_cli.notify.specimens import preview_mail
    from antaeus_cli.store.database import read_only

    preview, kind_name, customer = asked
    if not preview:
        raise InputError("--customer and --kind name the e-mail --preview prints: add --preview")
    kinds = {kind.value: kind for kind in CUSTOMER_KINDS}
    if kind_name not in kinds:
        raise InputError(f"--preview needs --kind, one of {', '.join(kinds)}")
    if customer is None:
        raise InputError("--preview needs --customer ID: whose e-mail to print")
    if json_output:
        raise InputError("--preview prints an e-mail; --json is for the other forms")
    if spec.sender is None:
        raise InputError(
            "--preview shows an e-mail: the notify spec must be smtp://, "
            "smtps:// or maildir://, with from="
        )
    notice_kind: NoticeKind = kinds[kind_name]
    mail = read_only(
        ctx.obj.db_path,
        lambda store: preview_mail(
            store,
            letters,
            customer_id=customer,
            kind=notice_kind,
            sender=spec.sender or "",
            zone=zone,
        ),
    )
    sys.stderr.write(f"antaeus: preview of {safe(mail.source)}; nothing was sent\n")
    sys.stdout.write(mail.text)
    raise typer.Exit(ExitCode.OK)
