"""Rendering a pass result (or a dry-run preview): JSON, a rich table, or plain lines."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from antaeus_cli.billing.preview_result import PreviewResult, ZoneDue
from antaeus_cli.billing.results import PassResult
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.cli.json_out import write_json
from antaeus_cli.cli.progress import interactive
from antaeus_cli.cli.text import capped, moment, safe
from antaeus_cli.domain.money import CurrencyTotal
from antaeus_cli.domain.overdue import OpenAttempt, described
from antaeus_cli.domain.words import counted


def _totals_json(rows: list[CurrencyTotal]) -> list[dict[str, Any]]:
    return [
        {"currency": r.currency, "count": r.count, "amount_minor": r.minor, "amount": r.formatted}
        for r in rows
    ]


def _instant(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None


def _zone_line(zone: ZoneDue) -> str:
    name = "company zone" if zone.zone is None else f"zone {capped(safe(zone.zone), 80)}"
    if not zone.known:
        return (
            f"{name}: not a known time zone; its customers' invoices are held "
            f"({counted(zone.due, 'invoice')} due)"
        )
    held = f", {zone.held} held" if zone.held else ""
    return f"{name}: local date {zone.local_date}, {counted(zone.due, 'invoice')} due{held}"


def pass_json(result: PassResult, code: ExitCode) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "command": result.command.value,
        "as_of": result.as_of.isoformat(),
        "as_of_instant": _instant(result.as_of_instant),
        "provider": result.provider,
        "status": result.status.value,
        "stop_reason": result.stop_reason,
        "exit_code": int(code),
        "counts": result.counts.as_columns(),
        "paid": _totals_json(result.paid),
        "declined": _totals_json(result.declined),
        "needs_operator": [
            {"invoice_id": i.invoice_id, "code": i.code, "detail": i.detail}
            for i in result.counts.operator_items
        ],
        "unresolved_attempts": result.unresolved,
        "overdue_total": result.overdue.total,
        "overdue_attempts": [described(attempt) for attempt in result.overdue.listed],
        "took_over_from_run": result.took_over_from,
    }


def render_pass(result: PassResult, code: ExitCode, *, json_output: bool) -> None:
    if json_output:
        write_json(pass_json(result, code))
    elif interactive(sys.stdout):
        from antaeus_cli.cli.tables import pass_table

        pass_table(result, code)
    else:
        for line in pass_lines(result, code):
            sys.stdout.write(line + "\n")


def pass_lines(result: PassResult, code: ExitCode) -> list[str]:
    counts = result.counts
    head = (
        f"run {result.run_id} ({result.command.value}, as of "
        f"{moment(result.as_of, result.as_of_instant)}) "
        f"{result.status.value}; exit {int(code)}"
    )
    lines = [head]
    if result.stop_reason:
        lines.append(f"  why: {safe(result.stop_reason)}")
    lines.append("  " + ", ".join(count_words(result)))
    # The same invoices as the counts above: "paid" all paid, "declined" every decline.
    lines += [f"  paid {r.formatted} ({r.count})" for r in result.paid]
    lines += [f"  declined {r.formatted} ({r.count})" for r in result.declined]
    lines += [
        f"  needs operator: invoice {i.invoice_id}: {i.code}: {safe(i.detail)}"
        for i in counts.operator_items
    ]
    if counts.needs_operator > len(counts.operator_items):
        lines.append("  ... more in 'antaeus report'")
    late = result.overdue
    lines += [f"  overdue: {overdue_line(attempt)}" for attempt in late.listed]
    if late.total > len(late.listed):
        lines.append("  ... more in 'antaeus report --section overdue-attempts'")
    return lines


def overdue_line(attempt: OpenAttempt) -> str:
    """An overdue attempt on one line: what was sent, when, how often it was looked up
    in vain, and what to do."""
    shown = described(attempt)
    return safe(
        f"attempt {attempt.attempt_id} (invoice {attempt.invoice_id}, "
        f"{shown['amount_formatted']}, sent {attempt.started_at}, {attempt.outcome}, "
        f"{attempt.lookup_passes} passes could not settle it): {shown['action']}"
    )


def count_words(result: PassResult) -> list[str]:
    """The counts of a pass, each once, in words that match the totals below them:
    "declined" is every decline, with the three things a decline may make of an
    invoice in brackets."""
    counts = result.counts
    declined = f"declined {counts.declines}"
    if counts.declines:
        declined += (
            f" (retry scheduled {counts.declined}, uncollectible {counts.uncollectible}, "
            f"awaiting the customer {counts.awaiting_customer})"
        )
    words = [f"paid {counts.paid}", declined]
    if counts.handed_back:
        words.append(f"handed back by the breaker {counts.handed_back}")
    return [
        *words,
        f"needs operator {counts.needs_operator}",
        f"not processed {counts.not_processed}",
        f"reconciled {counts.reconciled}",
        f"released {counts.released}",
        f"network retries {counts.network_retries}",
        f"unresolved {result.unresolved}",
    ]


def preview_json(preview: PreviewResult) -> dict[str, Any]:
    return {
        "dry_run": True,
        "command": preview.command.value,
        "as_of": preview.as_of.isoformat(),
        "as_of_instant": _instant(preview.as_of_instant),
        "zones": [
            {
                "zone": z.zone,
                "known": z.known,
                "local_date": z.local_date.isoformat() if z.local_date else None,
                "due": z.due,
                "held": z.held,
            }
            for z in preview.zones
        ],
        "open_attempts_to_replay": preview.to_replay,
        "to_charge": _totals_json(preview.to_charge),
        "invoices": [
            {
                "invoice_id": i.invoice_id,
                "customer_id": i.customer_id,
                "amount": i.amount,
                "idempotency_key": i.key,
            }
            for i in preview.listed
        ],
        "needs_operator_count": preview.needs_operator,
        "needs_operator": [
            {"invoice_id": i.invoice_id, "code": i.code, "detail": i.detail}
            for i in preview.operator_items
        ],
        "awaiting_customer_count": preview.awaiting_customer,
        "awaiting_customer": [
            {"invoice_id": i.invoice_id, "code": i.code, "detail": i.detail}
            for i in preview.awaiting_items
        ],
        "stop_reason": preview.stop_reason,
        "beyond_cap_count": preview.beyond_cap,
        "beyond_cap": _totals_json(preview.beyond_cap_totals),
        "replays_kept_open": preview.replays_kept_open,
    }


def render_preview(preview: PreviewResult, *, json_output: bool) -> None:
    if json_output:
        write_json(preview_json(preview))
        return
    out = sys.stdout
    when = moment(preview.as_of, preview.as_of_instant)
    out.write(f"dry run of '{preview.command.value}' as of {when}: nothing was changed\n")
    for zone in preview.zones:
        out.write(f"  {_zone_line(zone)}\n")
    kept = preview.replays_kept_open
    out.write(
        f"  would replay {counted(preview.to_replay, 'open attempt')} first"
        + (f" ({kept} of them only looked up: the run cap keeps them open)" if kept else "")
        + "\n"
    )
    if not preview.to_charge:
        out.write("  nothing to charge\n")
    for row in preview.to_charge:
        out.write(f"  would charge {counted(row.count, 'invoice')}, {row.formatted}\n")
    for item in preview.listed:
        out.write(f"    invoice {item.invoice_id}: {item.amount} under key {item.key}\n")
    for op in preview.operator_items:
        out.write(
            f"  would need an operator: invoice {op.invoice_id}: {op.code}: {safe(op.detail)}\n"
        )
    for op in preview.awaiting_items:
        out.write(
            f"  would wait for the customer: invoice {op.invoice_id}: {op.code}: "
            f"{safe(op.detail)}\n"
        )
    if preview.stop_reason is not None:
        out.write(f"  would stop: {preview.stop_reason}\n")
        left = "; ".join(f"{row.formatted} ({row.count})" for row in preview.beyond_cap_totals)
        out.write(
            f"  would leave {counted(preview.beyond_cap, 'due invoice')} for a later pass"
            + (f": {left}" if left else "")
            + "\n"
        )
