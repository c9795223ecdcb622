"""`antaeus import customers FILE` and `antaeus import invoices FILE`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels

if TYPE_CHECKING:
    from antaeus_cli.importing import Format, ImportResult, Kind

app = typer.Typer(
    help="Load customers or invoices that an upstream system exported (CSV or JSON Lines).",
    no_args_is_help=True,
)

File = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="CSV with a header row, or JSON Lines (.jsonl)."),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="csv|jsonl",
        help="The file's format. Default: from its name (.csv, .jsonl, .ndjson).",
        show_default=False,
        rich_help_panel=panels.WHAT_TO_IMPORT,
    ),
]
ImportDryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Check every record and count; write nothing.",
        rich_help_panel=panels.WHAT_TO_IMPORT,
    ),
]


@app.command("customers", cls=panels.PanelledCommand)
def customers(
    ctx: typer.Context,
    file: File,
    fmt: FormatOption = None,
    dry_run: ImportDryRun = False,
    json_output: opt.Json = False,
) -> None:
    """Add customers, matched by external_id: a known one keeps its currency and gets
    its provider_ref, email and timezone updated. All or nothing."""
    _run(ctx, "customers", file, fmt, dry_run=dry_run, json_output=json_output)


@app.command("invoices", cls=panels.PanelledCommand)
def invoices(
    ctx: typer.Context,
    file: File,
    fmt: FormatOption = None,
    dry_run: ImportDryRun = False,
    json_output: opt.Json = False,
) -> None:
    """Add invoices, matched by external_id, for customers imported before (by their
    customer_external_id): PENDING to be charged, or PAID history. An import never
    changes an invoice. All or nothing."""
    _run(ctx, "invoices", file, fmt, dry_run=dry_run, json_output=json_output)


def _run(
    ctx: typer.Context, kind: Kind, file: Path, fmt: str | None, *, dry_run: bool,
    json_output: bool,
) -> None:  # fmt: skip
    from datetime import UTC, datetime

    from antaeus_cli.cli.exit_codes import ExitCode
    from antaeus_cli.importing import format_of, import_file
    from antaeus_cli.store.database import Store

    if fmt not in (None, "csv", "jsonl"):
        raise typer.BadParameter("expected csv or jsonl", param_hint="'--format'")
    chosen: Format = format_of(file, fmt)  # type: ignore[arg-type]
    store = Store.open(ctx.obj.db_path)
    try:
        result = import_file(store, kind, file, fmt=chosen, dry_run=dry_run, now=datetime.now(UTC))
    finally:
        store.close()
    _render(result, json_output=json_output)
    raise typer.Exit(ExitCode.USAGE if result.error_count else ExitCode.OK)


def _render(result: ImportResult, *, json_output: bool) -> None:
    from antaeus_cli.cli.boundary import print_error
    from antaeus_cli.cli.text import safe
    from antaeus_cli.domain.words import counted

    if json_output:
        from antaeus_cli.cli.json_out import write_json

        write_json(
            {
                "kind": result.kind,
                "file": str(result.path),
                "dry_run": result.dry_run,
                "applied": result.applied,
                "records": result.records,
                "added": result.added,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "error_count": result.error_count,
                "errors": [{"line": line, "text": text} for line, text in result.errors],
            }
        )
    else:
        if result.error_count:
            outcome = "nothing imported"
        else:
            would = "would be " if result.dry_run else ""
            outcome = (
                f"{result.added} {would}added, {result.updated} {would}updated, "
                f"{result.unchanged} unchanged"
                f"{' (dry run: nothing written)' if result.dry_run else ''}"
            )
        sys.stdout.write(
            f"{result.kind} from {result.path}: {counted(result.records, 'record')}; {outcome}\n"
        )
    if result.error_count:
        for line, text in result.errors:
            sys.stderr.write(f"{result.path}:{line}: {safe(text)}\n")
        more = result.error_count - len(result.errors)
        print_error(
            f"{counted(result.error_count, 'record')} refused"
            f"{f' ({more} not shown)' if more else ''}; nothing was imported"
        )
