"""`antaeus check`: billing's health for a monitoring system, by the Nagios plugin
convention (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels

if TYPE_CHECKING:
    from antaeus_cli.domain.health import Level
    from antaeus_cli.health import Health


def _hours(name: str, text: str) -> Any:  # typer.Option is typed Any
    """An option of hours, from none to a year."""
    return typer.Option(
        name,
        min=0.0,
        max=24.0 * 366,
        metavar="HOURS",
        help=text,
        rich_help_panel=panels.WHAT_TO_JUDGE,
    )


def command(
    ctx: typer.Context,
    pass_warning: Annotated[
        float,
        _hours("--pass-warning", "WARNING when the last completed bill pass is older than this."),
    ] = 2.0,
    pass_critical: Annotated[
        float,
        _hours("--pass-critical", "CRITICAL when the last completed bill pass is older than this."),
    ] = 6.0,
    notice_warning: Annotated[
        float, _hours("--notice-warning", "WARNING when a notice has waited to go this long.")
    ] = 1.0,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="INSTANT",
            help="Judge as of this instant with an offset (2026-12-01T06:00:00Z). Default: now.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_JUDGE,
        ),
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            metavar="PATH",
            help="Also write the findings as Prometheus metrics (the textfile collector's "
            "format), atomically.",
            show_default=False,
            rich_help_panel=panels.OUTPUT,
        ),
    ] = None,
    json_output: opt.Json = False,
) -> None:
    """Say whether billing is healthy, for a monitoring system: the last completed bill
    pass (a cron that stopped firing), charges open too long, invoices held for an
    operator, notices failing or waiting, a lock held by a dead pass. Exit 0 OK,
    1 WARNING, 2 CRITICAL, 3 UNKNOWN (the database cannot be read, or the check cannot
    be made as asked). Read-only."""
    from datetime import UTC, datetime

    from antaeus_cli.domain.health import Level, Thresholds
    from antaeus_cli.errors import AntaeusError, SchemaTooOld
    from antaeus_cli.health import check
    from antaeus_cli.host import is_alive
    from antaeus_cli.store.database import read_only

    try:  # a check that cannot be made as asked is UNKNOWN, as a plugin's usage error is
        now = datetime.now(UTC) if as_of is None else opt.instant(as_of, "--as-of")
        if metrics_file is not None:
            from antaeus_cli.cli.metrics import check_target

            check_target(metrics_file, ctx.obj.db_path)
    except typer.BadParameter as exc:
        message = exc.format_message()
        _fail(Level.UNKNOWN, message, json_output=json_output, metrics_file=None, what="usage")
    except AntaeusError as exc:
        _fail(Level.UNKNOWN, exc.message, json_output=json_output, metrics_file=None, what="usage")
    limits = Thresholds(
        pass_warning=timedelta(hours=pass_warning),
        pass_critical=timedelta(hours=pass_critical),
        notice_warning=timedelta(hours=notice_warning),
    )
    try:
        health = read_only(
            ctx.obj.db_path, lambda store: check(store, now=now, limits=limits, is_alive=is_alive)
        )
    except SchemaTooOld as exc:
        _fail(Level.CRITICAL, exc.message, json_output=json_output, metrics_file=metrics_file)
    except AntaeusError as exc:
        _fail(Level.UNKNOWN, exc.message, json_output=json_output, metrics_file=metrics_file)
    _render(health, json_output=json_output)
    if metrics_file is not None:
        from antaeus_cli.cli.boundary import print_error
        from antaeus_cli.cli.metrics import write_health

        try:
            write_health(metrics_file, health)
        except AntaeusError as exc:  # the monitoring system still gets the level
            print_error(exc.message)
    raise typer.Exit(int(health.level))


def _render(health: Health, *, json_output: bool) -> None:
    from antaeus_cli.cli.text import safe

    if json_output:
        from antaeus_cli.cli.json_out import write_json

        write_json(
            {
                "status": health.level.name,
                "exit_code": int(health.level),
                "findings": [
                    {"level": f.level.name, "check": f.check, "text": f.text}
                    for f in health.findings
                ],
            }
        )
        return
    first, *rest = health.findings
    sys.stdout.write(f"ANTAEUS {health.level.name} - {safe(first.text)}\n")
    for finding in rest:
        sys.stdout.write(f"{finding.level.name}: {safe(finding.text)}\n")


def _fail(
    level: Level,
    message: str,
    *,
    json_output: bool,
    metrics_file: Path | None,
    what: str = "database",
) -> NoReturn:
    if json_output:
        from antaeus_cli.cli.json_out import write_json

        write_json(
            {
                "status": level.name,
                "exit_code": int(level),
                "findings": [{"level": level.name, "check": what, "text": message}],
            }
        )
    else:
        from antaeus_cli.cli.text import safe

        sys.stdout.write(f"ANTAEUS {level.name} - {safe(message)}\n")
    if metrics_file is not None:
        from antaeus_cli.cli.boundary import print_error
        from antaeus_cli.cli.metrics import write_failure
        from antaeus_cli.errors import AntaeusError

        try:
            write_failure(metrics_file, level)
        except AntaeusError as exc:
            print_error(exc.message)
    raise typer.Exit(int(level))
