"""Rendering `antaeus report` as a table, JSON or CSV."""

from __future__ import annotations

import csv
import sys
from typing import Any

from antaeus_cli.cli.json_out import write_json
from antaeus_cli.cli.text import safe
from antaeus_cli.reports import Report

# The columns of an invoice held for a person: by an operator, or by its customer.
_HELD_COLUMNS = (
    "invoice_id",
    "customer_id",
    "amount",
    "currency",
    "amount_formatted",
    "failure_code",
    "failure_detail",
    "updated_at",
)
# The columns of a VOID invoice: when, why and by whom it was voided, and what it was.
_VOID_COLUMNS = (
    "invoice_id",
    "customer_id",
    "amount",
    "currency",
    "amount_formatted",
    "due_date",
    "voided_at",
    "reason",
    "voided_by",
    "host",
    "from_status",
    "failure_code",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_json(report: Report, section: str | None) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "totals": [
            {
                "status": t.status,
                "currency": t.currency,
                "count": t.count,
                "amount_minor": t.amount_minor,
                "amount": t.amount,
            }
            for t in report.totals
        ],
        "collected": [
            {
                "currency": c.currency,
                "count": c.count,
                "amount_minor": c.minor,
                "amount": c.formatted,
            }
            for c in report.collected
        ],
        "needs-operator": report.needs_operator,
        "awaiting-customer": report.awaiting_customer,
        "void": report.voided,
        "retries": report.retries,
        "overdue-attempts": report.overdue,
        "declines": report.declines,
        "open-attempts": report.open_listed,
        "charges-without-invoice": report.orphans,
        "runs": report.runs,
        "notifications": {
            "by_status": report.notifications,
            "not_delivered": report.notifications_failed,
            "customers_without_email": report.customers_without_email,
        },
    }
    if section == "needs-operator":
        return {section: parts[section], "needs_operator_total": report.needs_operator_total}
    if section == "overdue-attempts":
        return {section: parts[section], "overdue_total": report.overdue_total}
    if section == "void":
        return {section: parts[section], "void_total": report.voided_total}
    if section is not None:
        return {section: parts[section]}
    return {
        **parts,
        "needs_operator_total": report.needs_operator_total,
        "overdue_total": report.overdue_total,
        "void_total": report.voided_total,
        "open_attempts": report.open_attempts,
        "retries_scheduled": [{"date": d, "count": n} for d, n in report.retries_due],
        "pass_running": report.running,
    }


def render_report(report: Report, output_format: str, section: str | None) -> None:
    if output_format == "json":
        write_json(report_json(report, section))
    elif output_format == "csv":
        _write_csv(report, section or "totals")
    else:
        from antaeus_cli.cli.tables import report_tables

        report_tables(report, section)


def _write_csv(report: Report, section: str) -> None:
    chosen = report_json(report, section)[section]
    rows: list[dict[str, Any]] = chosen["by_status"] if section == "notifications" else chosen
    if section == "totals":
        columns = ["status", "currency", "count", "amount_minor", "amount"]
    elif section == "collected":
        columns = ["currency", "count", "amount_minor", "amount"]
    elif section == "declines":
        columns = ["code", "class", "count"]
    elif section == "notifications":
        columns = ["status", "count"]
    elif section == "open-attempts":
        columns = [
            "attempt_id",
            "invoice_id",
            "idempotency_key",
            "outcome",
            "provider_ref",
            "started_at",
            "lookup_passes",
            "error",
        ]
    elif section == "overdue-attempts":
        columns = [
            "attempt_id",
            "invoice_id",
            "idempotency_key",
            "amount",
            "currency",
            "amount_formatted",
            "started_at",
            "outcome",
            "lookup_passes",
            "provider_ref",
            "error",
            "action",
        ]
    elif section == "charges-without-invoice":
        columns = [
            "attempt_id",
            "invoice_id",
            "customer_id",
            "amount",
            "currency",
            "idempotency_key",
            "provider_ref",
            "finished_at",
            "error",
        ]
    elif section in ("needs-operator", "awaiting-customer"):
        columns = list(_HELD_COLUMNS)
    elif section == "void":
        columns = list(_VOID_COLUMNS)
    elif section == "retries":
        columns = [
            "invoice_id",
            "customer_id",
            "amount",
            "currency",
            "amount_formatted",
            "next_retry_on",
            "decline_count",
            "failure_code",
        ]
    else:
        columns = list(rows[0]) if rows else ["id"]
    writer = csv.DictWriter(
        sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})


def _cell(value: object) -> object:
    """Neutralise spreadsheet formulas (CSV injection) and terminal escapes in stored text."""
    if not isinstance(value, str):
        return value
    value = safe(value)
    return "'" + value if value.startswith(_FORMULA_START) else value
