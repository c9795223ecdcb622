"""`antaeus backup` and `antaeus migrate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels

if TYPE_CHECKING:
    from antaeus_cli.upkeep import BackupResult


def backup_command(
    ctx: typer.Context,
    target: Annotated[
        Path, typer.Argument(metavar="PATH", help="The new file; never an existing one.")
    ],
    json_output: opt.Json = False,
) -> None:
    """Copy the database to PATH while passes may run (SQLite's online backup): one
    file, readable by its owner only, checked before it is given its name."""
    from antaeus_cli.upkeep import backup

    result = backup(ctx.obj.db_path, target)
    if json_output:
        from antaeus_cli.cli.json_out import write_json

        write_json(_backup_json(result))
        return
    sys.stdout.write(
        f"backed up {result.source} to {result.backup}: schema {result.schema_version}, "
        f"{result.size_bytes:,} bytes, verified\n"
    )


def migrate_command(
    ctx: typer.Context,
    backup_to: Annotated[
        Path | None,
        typer.Option(
            "--backup",
            metavar="PATH",
            help="Where the backup taken first goes. Default: beside the database, as "
            "NAME.vOLD-TIMESTAMP.backup.",
            show_default=False,
            rich_help_panel=panels.DATABASE,
        ),
    ] = None,
    json_output: opt.Json = False,
) -> None:
    """Move the database to this version's schema, after a verified backup. No other
    command migrates: they refuse an older schema (exit 2) and name this command."""
    from datetime import UTC, datetime

    from antaeus_cli.host import is_alive
    from antaeus_cli.upkeep import migrate

    result = migrate(ctx.obj.db_path, backup_to, now=datetime.now(UTC), is_alive=is_alive)
    if json_output:
        from antaeus_cli.cli.json_out import write_json

        write_json(
            {
                "database": str(result.db_path),
                "from_db_schema_version": result.from_version,
                "to_db_schema_version": result.to_version,
                "backup": None if result.backup is None else _backup_json(result.backup),
            }
        )
        return
    if result.backup is None:
        sys.stdout.write(f"{result.db_path} is at schema {result.to_version}: nothing to do\n")
        return
    sys.stdout.write(
        f"backed up {result.db_path} to {result.backup.backup} (verified), then migrated it "
        f"from schema {result.from_version} to {result.to_version}\n"
    )


def _backup_json(result: BackupResult) -> dict[str, object]:
    return {
        "database": str(result.source),
        "backup": str(result.backup),
        "db_schema_version": result.schema_version,
        "size_bytes": result.size_bytes,
    }
