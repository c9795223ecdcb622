"""`antaeus report`: totals per status and currency, what needs an operator, recent runs."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class Section(enum.StrEnum):
    TOTALS = "totals"
    COLLECTED = "collected"
    NEEDS_OPERATOR = "needs-operator"
    AWAITING_CUSTOMER = "awaiting-customer"
    VOID = "void"
    RETRIES = "retries"
    OVERDUE_ATTEMPTS = "overdue-attempts"
    DECLINES = "declines"
    OPEN_ATTEMPTS = "open-attempts"
    CHARGES_WITHOUT_INVOICE = "charges-without-invoice"
    RUNS = "runs"
    NOTIFICATIONS = "notifications"


def command(
    ctx: typer.Context,
    section: Annotated[
        Section | None,
        typer.Option(
            "--section",
            metavar="SECTION",
            help=f"Only this part of the report: {', '.join(s.value for s in Section)}. CSV "
            "holds one table: totals unless given.",
            rich_help_panel=panels.WHAT_TO_SHOW,
        ),
    ] = None,
    runs: Annotated[
        int,
        typer.Option(
            "--runs",
            min=0,
            max=1000,
            metavar="N",
            help="Recent runs to show.",
            rich_help_panel=panels.WHAT_TO_SHOW,
        ),
    ] = 10,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            min=0,
            max=1_000_000_000,
            metavar="N",
            help="Invoices to list in each list (needing an operator, waiting for the "
            "customer, void, retries) and overdue attempts (0: all of them).",
            rich_help_panel=panels.WHAT_TO_SHOW,
        ),
    ] = 100,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            metavar="table|json|csv",
            help="table for people, json or csv for scripts.",
            rich_help_panel=panels.OUTPUT,
        ),
    ] = Format.TABLE,
    json_output: opt.Json = False,
) -> None:
    """Where every invoice stands. Read-only: safe to run while a pass is running.

    Amounts are totalled per currency and never added across currencies.
    """
    from datetime import UTC, datetime

    from antaeus_cli.cli.render_report import render_report
    from antaeus_cli.reports import build_report
    from antaeus_cli.store.database import read_only

    if json_output:
        if output_format not in (Format.TABLE, Format.JSON):
            raise typer.BadParameter(
                f"--json and --format {output_format.value} ask for two formats: give one",
                param_hint="'--json'",
            )
        output_format = Format.JSON
    now = datetime.now(UTC)
    report = read_only(
        ctx.obj.db_path,
        lambda store: build_report(store, recent_runs=runs, limit=limit or None, now=now),
    )
    render_report(report, output_format.value, None if section is None else section.value)
