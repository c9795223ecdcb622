"""`antaeus requeue-notices`: put notices `notify` gave up on back in the outbox."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels

if TYPE_CHECKING:
    from antaeus_cli.notify.requeue import RequeueResult

KINDS = ("receipt", "payment_failed", "action_required", "final_notice", "run_summary")


def command(
    ctx: typer.Context,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help=f"Only notices of this kind (repeatable): {', '.join(KINDS)}.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_REQUEUE,
        ),
    ] = None,
    customer: Annotated[
        list[int] | None,
        typer.Option(
            "--customer",
            metavar="ID",
            min=-(2**63),
            max=2**63 - 1,
            help="Only this customer's notices (repeatable); run summaries are nobody's.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_REQUEUE,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="INSTANT",
            help="Only notices written at or after this instant, e.g. 2026-12-01T00:00:00Z.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_REQUEUE,
        ),
    ] = None,
    skipped: Annotated[
        bool,
        typer.Option(
            "--skipped",
            help="Also notices skipped for want of an address (once there is one).",
            rich_help_panel=panels.WHAT_TO_REQUEUE,
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would be put back; change nothing.",
            rich_help_panel=panels.WHAT_TO_REQUEUE,
        ),
    ] = False,
    json_output: opt.Json = False,
) -> None:
    """Put notices that failed for good back in the outbox, as new, once their cause is
    fixed; `antaeus notify` then sends them, under their own Message-ID or event id. A
    decline notice whose decline no longer stands (its invoice paid or voided since,
    or tried again) stays as it is."""
    from datetime import UTC, datetime

    from antaeus_cli.domain.notices import NoticeKind
    from antaeus_cli.notify.requeue import RequeueFilter, requeue_notices
    from antaeus_cli.store.database import read_only, read_write

    unknown = [name for name in kind or () if name not in KINDS]
    if unknown:
        raise typer.BadParameter(
            f"{unknown[0][:40]!r} is not a kind of notice: use one of {', '.join(KINDS)}",
            param_hint="'--kind'",
        )
    chosen = RequeueFilter(
        kinds=tuple(NoticeKind(name) for name in dict.fromkeys(kind or ())),
        customers=tuple(dict.fromkeys(customer or ())),
        since=None if since is None else opt.instant(since, "--since"),
        skipped=skipped,
    )
    now = datetime.now(UTC)
    result = (read_only if dry_run else read_write)(
        ctx.obj.db_path, lambda store: requeue_notices(store, chosen, now=now, dry_run=dry_run)
    )
    if json_output:
        _json(result)
    else:
        _text(result)


def _json(result: RequeueResult) -> None:
    from antaeus_cli.cli.json_out import write_json

    write_json(
        {
            "dry_run": result.dry_run,
            "requeued": result.requeued,
            "listed": [
                {
                    "key": one.key,
                    "kind": one.kind,
                    "status": one.status,
                    "recipient": one.recipient,
                    "created_at": one.created_at,
                    "last_error": one.last_error,
                }
                for one in result.listed
            ],
            "kept": result.kept,
            "kept_listed": [
                {"key": one.key, "kind": one.kind, "reason": why} for one, why in result.kept_listed
            ],
        }
    )


def _text(result: RequeueResult) -> None:
    from antaeus_cli.cli.text import capped, safe
    from antaeus_cli.domain.words import counted

    out = sys.stdout
    notices = counted(result.requeued, "notice")
    if result.dry_run:
        out.write(f"dry run: {notices} would be put back in the outbox; nothing written\n")
    else:
        out.write(
            f"requeue-notices: {notices} put back in the outbox; 'antaeus notify' sends them\n"
        )
    for one in result.listed:
        to = "the operator" if one.kind == "run_summary" else (one.recipient or "no address")
        why = capped(safe(one.last_error or one.status))
        out.write(f"  {one.kind}: {safe(one.key)}: to {safe(to)}: was {one.status}: {why}\n")
    if result.requeued > len(result.listed):
        out.write(f"  ... and {result.requeued - len(result.listed)} more\n")
    if result.kept:
        out.write(f"kept as they are, no longer true: {counted(result.kept, 'notice')}\n")
        for one, why in result.kept_listed:
            out.write(f"  {one.kind}: {safe(one.key)}: {why}\n")
