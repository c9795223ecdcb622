"""`antaeus void`: mark invoices that must never be charged as VOID, with the reason."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels

if TYPE_CHECKING:
    from antaeus_cli.billing.void import VoidResult
    from antaeus_cli.domain.voiding import VoidFacts


def command(
    ctx: typer.Context,
    invoice: Annotated[
        list[int],
        typer.Option(
            "--invoice",
            metavar="ID",
            min=-(2**63),  # any row id: passes bill and hold those below 1 too
            max=2**63 - 1,
            help="Void this invoice (repeatable): all of them, or none.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_VOID,
        ),
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            metavar="TEXT",
            help="Why, in one line (at most 500 characters): recorded with the void, with "
            "the time and the user.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_VOID,
        ),
    ],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would be voided; change nothing.",
            rich_help_panel=panels.WHAT_TO_VOID,
        ),
    ] = False,
    json_output: opt.Json = False,
) -> None:
    """Mark invoices that must never be charged VOID: no pass charges them again, and
    check and report no longer count them as held. Refused (exit 2, nothing voided)
    for an invoice PAID, charged by the ledger, or with a charge open or in doubt."""
    from datetime import UTC, datetime

    from antaeus_cli.billing.void import Operator, void_invoices
    from antaeus_cli.domain.voiding import reason_refusal
    from antaeus_cli.host import current_process, current_user
    from antaeus_cli.store.database import read_only, read_write

    wrong = reason_refusal(reason)
    if wrong is not None:
        raise typer.BadParameter(wrong.removeprefix("--reason "), param_hint="'--reason'")
    me = current_process()
    by = Operator(current_user(), me.host, me.pid)
    now = datetime.now(UTC)
    result = (read_only if dry_run else read_write)(
        ctx.obj.db_path,
        lambda store: void_invoices(store, invoice, reason=reason, now=now, by=by, dry_run=dry_run),
    )
    if json_output:
        _json(result)
    else:
        _text(result)


def _json(result: VoidResult) -> None:
    from antaeus_cli.cli.json_out import write_json

    write_json(
        {
            "dry_run": result.dry_run,
            "reason": result.reason,
            "voided_at": None if result.dry_run or not result.voided else result.at.isoformat(),
            "voided_by": result.by.user,
            "host": result.by.host,
            "voided": [_invoice(one) for one in result.voided],
            "already_void": [
                {
                    "invoice_id": one.invoice_id,
                    "voided_at": one.voided_at,
                    "reason": one.void_reason,
                }
                for one in result.already
            ],
            "notices_withdrawn": result.notices_withdrawn,
            "still_held": [
                {"invoice_id": invoice_id, "failure_detail": text}
                for invoice_id, text in result.reworded
            ],
        }
    )


def _invoice(one: VoidFacts) -> dict[str, object]:
    return {
        "invoice_id": one.invoice_id,
        "customer_id": one.customer_id,
        "amount": one.amount,
        "currency": one.currency,
        "amount_formatted": _amount(one),
        "due_date": one.due_date,
        "from_status": one.status.value,
        "failure_code": one.failure_code,
        "failure_detail": one.failure_detail,
        "month_charged": one.month_charged,
    }


def _text(result: VoidResult) -> None:
    from antaeus_cli.cli.text import safe
    from antaeus_cli.domain.words import counted

    verb = "would void" if result.dry_run else "voided"
    out = sys.stdout
    for one in result.voided:
        held = "" if one.failure_code is None else f" {safe(one.failure_code)}"
        out.write(
            f"{verb} invoice {one.invoice_id}: customer {safe(one.customer_id)}, {_amount(one)}, "
            f"due {safe(one.due_date)}, was {one.status.value}{held}\n"
        )
        if one.month_charged is not None:
            out.write(
                f"  customer {safe(one.customer_id)}'s month is charged by another invoice "
                f"(key {safe(one.month_charged)}): voiding this one moves no money\n"
            )
    for one in result.already:
        out.write(
            f"invoice {one.invoice_id} is VOID already (since {safe(one.voided_at)}: "
            f"{safe(one.void_reason)}): left as it is\n"
        )
    count = counted(len(result.voided), "invoice")
    if result.dry_run:
        out.write(f"void: {count} would be voided; dry run: nothing written\n")
        return
    for invoice_id, text in result.reworded:
        out.write(f"invoice {invoice_id} is still held for its month: {safe(text)}\n")
    withdrawn = result.notices_withdrawn
    notices = f"; {counted(withdrawn, 'notice')} not yet sent withdrawn" if withdrawn else ""
    out.write(
        f"void: {count} voided at {result.at:%Y-%m-%d %H:%M:%S} UTC by {safe(result.by.user)} "
        f"on {safe(result.by.host)}, because: {safe(result.reason)}{notices}\n"
    )


def _amount(one: VoidFacts) -> str:
    from antaeus_cli.domain.money import format_minor

    amount, currency = one.amount, one.currency
    if type(amount) is int and isinstance(currency, str):
        return format_minor(amount, currency)
    return f"{amount!s} {currency!s}"
