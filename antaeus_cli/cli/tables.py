"""Rich tables for a terminal. Every cell that holds stored data is a Text, never
markup, so an invoice field cannot restyle or inject into the output."""

from __future__ import annotations

import os
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from antaeus_cli.billing.results import PassResult
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.cli.render_pass import overdue_line
from antaeus_cli.cli.text import moment, safe
from antaeus_cli.domain.money import format_minor
from antaeus_cli.reports import Report

LISTED_ON_SCREEN = 50


def _cell(value: object) -> Text:
    return Text(safe("" if value is None else value))


def pass_table(result: PassResult, code: ExitCode) -> None:
    console = _console()
    counts = result.counts
    title = (
        f"run {result.run_id}: {result.command.value} as of "
        f"{moment(result.as_of, result.as_of_instant)} - "
        f"{result.status.value} (exit {int(code)})"
    )
    table = Table(title=title, show_header=True)
    table.add_column("outcome")
    table.add_column("invoices", justify="right")
    table.add_column("amounts (per currency)")
    paid = "\n".join(f"{r.formatted} ({r.count})" for r in result.paid)
    declined = "\n".join(f"{r.formatted} ({r.count})" for r in result.declined)
    table.add_row("paid", str(counts.paid), paid)
    # One row for every decline, with its amounts; then what the declines became.
    table.add_row("declined", str(counts.declines), declined)
    table.add_row("  retry scheduled", str(counts.declined), "")
    table.add_row("  uncollectible", str(counts.uncollectible), "")
    table.add_row("  awaiting the customer", str(counts.awaiting_customer), "")
    if counts.handed_back:
        table.add_row("handed back by the breaker", str(counts.handed_back), "")
    table.add_row("needs operator", str(counts.needs_operator), "")
    table.add_row("reconciled from earlier runs", str(counts.reconciled), "")
    table.add_row("released unsent", str(counts.released), "")
    table.add_row("not processed (rate limited, lapsed)", str(counts.not_processed), "")
    table.add_row("network retries", str(counts.network_retries), "")
    table.add_row("still unresolved", str(result.unresolved), "")
    table.add_row("overdue: an operator must settle them", str(result.overdue.total), "")
    console.print(table)
    if result.stop_reason:
        console.print(Text(f"why: {safe(result.stop_reason)}", style="yellow"))
    if counts.operator_items:
        console.print(
            _operator_table(
                [(i.invoice_id, i.code, i.detail) for i in counts.operator_items],
                more=counts.needs_operator - len(counts.operator_items),
            )
        )
    for attempt in result.overdue.listed[:LISTED_ON_SCREEN]:
        console.print(Text(f"overdue: {overdue_line(attempt)}", style="yellow"))


def _operator_table(rows: list[tuple[object, object, object]], *, more: int) -> Table:
    table = Table(title="needs an operator")
    for name in ("invoice", "reason", "detail"):
        table.add_column(name)
    for row in rows[:LISTED_ON_SCREEN]:
        table.add_row(*(_cell(value) for value in row))
    hidden = more + max(0, len(rows) - LISTED_ON_SCREEN)
    if hidden:
        table.caption = (
            f"... and {hidden} more: antaeus report --format csv --section needs-operator"
        )
    return table


def report_tables(report: Report, section: str | None) -> None:
    console = _console()
    if section in (None, "totals"):
        console.print(_totals_table(report))
        if report.running:
            console.print(Text(f"pass lock held by {safe(report.running)}", style="cyan"))
        console.print(f"open attempts awaiting reconciliation: {report.open_attempts}")
    if section in (None, "overdue-attempts") and (report.overdue or section):
        console.print(_overdue_table(report))
    if section in (None, "open-attempts") and (report.open_listed or section):
        console.print(_open_table(report))
    if section in (None, "declines") and (report.declines or section):
        console.print(_declines_table(report))
    if section in (None, "charges-without-invoice") and (report.orphans or section):
        console.print(_orphans_table(report))
    if section in (None, "totals", "collected"):
        collected = "; ".join(f"{c.formatted} ({c.count})" for c in report.collected)
        console.print(f"collected through antaeus (ledger): {collected or 'nothing yet'}")
        if report.retries_due:
            console.print(
                "retries scheduled (dates in each customer's zone): "
                + ", ".join(f"{day}: {count}" for day, count in report.retries_due)
            )
    if section in (None, "needs-operator"):
        rows = [
            (r["invoice_id"], r["failure_code"], r["failure_detail"]) for r in report.needs_operator
        ]
        if rows or section:
            console.print(_operator_table(rows, more=report.needs_operator_total - len(rows)))
    _invoice_lists(console, report, section)
    if section in (None, "notifications"):
        _notifications(console, report)
    if section in (None, "runs"):
        console.print(_runs_table(report))


def _invoice_lists(console: Console, report: Report, section: str | None) -> None:
    """The invoices waiting for their customer, and the retries by date."""
    if section in (None, "awaiting-customer") and (report.awaiting_customer or section):
        waiting = ("failure_code", "code"), ("updated_at", "since")
        console.print(
            _invoices_table(report.awaiting_customer, "waiting for the customer", *waiting)
        )
    if section in (None, "void") and (report.voided or section):
        console.print(_void_table(report))
    if section in (None, "retries") and (report.retries or section):
        retry = ("next_retry_on", "next try"), ("decline_count", "declines")
        console.print(_invoices_table(report.retries, "retries (customers' own dates)", *retry))


def _void_table(report: Report) -> Table:
    """VOID invoices: never charged again, held by nobody; when, why and who."""
    table = Table(title="void: never charged (times in UTC)")
    for name in ("invoice", "customer", "amount", "voided (UTC)", "by", "why", "was"):
        table.add_column(name)
    for row in report.voided[:LISTED_ON_SCREEN]:
        was = " ".join(str(part) for part in (row["from_status"], row["failure_code"]) if part)
        table.add_row(
            str(row["invoice_id"]),
            _cell(row["customer_id"]),
            _cell(row["amount_formatted"]),
            _cell(_to_the_minute(row["voided_at"])),
            _cell(row["voided_by"]),
            _cell(row["reason"]),
            _cell(was),
        )
    hidden = report.voided_total - min(len(report.voided), LISTED_ON_SCREEN)
    if hidden > 0:
        table.caption = f"... and {hidden} more: antaeus report --format csv --section void"
    return table


def _to_the_minute(stamp: object) -> str:
    """An ISO instant to the minute, with its year (`2026-12-01 06:02`); or why none."""
    return "by hand: not recorded" if stamp is None else str(stamp)[:16].replace("T", " ")


def _declines_table(report: Report) -> Table:
    declines = Table(title="declines by provider code")
    for name in ("code", "class", "count"):
        declines.add_column(name)
    for row in report.declines:
        declines.add_row(_cell(row["code"]), _cell(row["class"]), str(row["count"]))
    return declines


def _notifications(console: Console, report: Report) -> None:
    counts: dict[str, int] = {}
    for row in report.notifications:
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
    shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    console.print(f"notifications (antaeus notify delivers them): {shown}")
    if report.customers_without_email:
        console.print(f"customers without an e-mail address: {report.customers_without_email}")
    if report.notifications_failed:
        table = Table(title="notifications not delivered")
        for name in ("notice", "kind", "status", "invoice", "to", "tries", "why"):
            table.add_column(name)
        for row in report.notifications_failed:
            table.add_row(
                _cell(row["dedupe_key"]),
                _cell(row["kind"]),
                _cell(row["status"]),
                _cell(row["invoice_id"]),
                _cell(row["recipient"]),
                str(row["tries"]),
                _cell(row["last_error"]),
            )
        console.print(table)
        undelivered = sum(counts.get(status, 0) for status in ("failed", "skipped", "withdrawn"))
        hidden = undelivered - len(report.notifications_failed)
        if hidden > 0:
            console.print(
                f"... and {hidden} more: antaeus report --section notifications --limit 0"
            )


def _console() -> Console:
    """Wide enough for the tables when the output is a file or a pipe."""
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:  # COLUMNS: as given
        console = Console(highlight=False, width=160)
    return console


def _totals_table(report: Report) -> Table:
    totals = Table(title="invoices by status and currency")
    totals.add_column("status")
    totals.add_column("currency")
    totals.add_column("count", justify="right")
    totals.add_column("amount", justify="right")
    for row in report.totals:
        totals.add_row(_cell(row.status), _cell(row.currency), str(row.count), _cell(row.amount))
    return totals


def _orphans_table(report: Report) -> Table:
    table = Table(title="charges without an invoice (deleted while in flight)")
    for name in ("attempt", "invoice", "amount", "reference", "note"):
        table.add_column(name)
    for row in report.orphans[:LISTED_ON_SCREEN]:
        table.add_row(
            str(row["attempt_id"]),
            _cell(row["invoice_id"]),
            _cell(format_minor(int(row["amount"]), str(row["currency"]))),
            _cell(row["provider_ref"] or row["idempotency_key"]),
            _cell(row["error"]),
        )
    return table


def _open_table(report: Report) -> Table:
    table = Table(title="open attempts: why each is not settled yet (times in UTC)")
    for name in ("attempt", "invoice", "outcome", "reference", "started (UTC)", "passes", "why"):
        table.add_column(name)
    for row in report.open_listed[:LISTED_ON_SCREEN]:
        table.add_row(
            str(row["attempt_id"]),
            str(row["invoice_id"]),
            _cell(row["outcome"]),
            _cell(row["provider_ref"]),
            _cell(row["started_at"]),
            str(row["lookup_passes"]),
            _cell(row["error"] or "not answered yet: the next pass looks it up"),
        )
    return table


def _overdue_table(report: Report) -> Table:
    table = Table(
        title="overdue attempts: no pass could settle them, money may have moved (times in UTC)"
    )
    for name in ("attempt", "invoice", "key", "amount", "sent (UTC)", "passes", "what to do"):
        table.add_column(name)
    for row in report.overdue[:LISTED_ON_SCREEN]:
        table.add_row(
            str(row["attempt_id"]),
            str(row["invoice_id"]),
            _cell(row["idempotency_key"]),
            _cell(row["amount_formatted"]),
            _cell(row["started_at"]),
            str(row["lookup_passes"]),
            _cell(row["action"]),
        )
    hidden = report.overdue_total - min(len(report.overdue), LISTED_ON_SCREEN)
    if hidden:
        table.caption = (
            f"... and {hidden} more: antaeus report --format csv --section overdue-attempts"
        )
    return table


def _invoices_table(rows: list[dict[str, Any]], title: str, *columns: tuple[str, str]) -> Table:
    table = Table(title=title)
    for name in ("invoice", "customer", "amount", *(label for _, label in columns)):
        table.add_column(name)
    for row in rows:
        table.add_row(
            str(row["invoice_id"]),
            str(row["customer_id"]),
            _cell(row["amount_formatted"]),
            *(_cell(row[key]) for key, _ in columns),
        )
    return table


def _runs_table(report: Report) -> Table:
    """Recent runs, narrow enough for an 80-column terminal: minutes, not microseconds;
    why a run stopped follows the table, a line each."""
    runs = Table(
        title="recent runs (times in UTC, MM-DD HH:MM)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    for name, justify in (
        ("run", "right"),
        ("started", "left"),
        ("cmd", "left"),
        ("as of", "left"),
        ("status", "left"),
        ("paid", "right"),
        ("decl", "right"),
        ("held", "right"),
        ("open", "right"),
    ):
        runs.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    why = []
    for run in report.runs:
        runs.add_row(
            str(run["id"]),
            _cell(_minutes(run["started_at"])),
            _cell(str(run["command"]).replace("retry-failed", "retry")),
            _cell(_minutes(run.get("as_of_instant") or run["as_of"])),
            _cell(run["status"]),
            str(run["paid"]),
            str(run["declined"] + run["uncollectible"] + run["awaiting_customer"]),
            str(run["needs_operator"]),
            str(run["unknown"]),
        )
        if run["stop_reason"]:
            why.append(f"run {run['id']}: {safe(str(run['stop_reason']))}")
    if why:
        runs.caption = "\n".join(why)
        runs.caption_justify = "left"
    return runs


def _minutes(stamp: object) -> object:
    """An ISO instant to the minute, without its year (`12-01 06:02`: the table's runs
    are recent); a date as it is."""
    text = str(stamp)
    return text[5:16].replace("T", " ") if len(text) > 10 else text
