"""`antaeus init`: create an empty production database."""

from __future__ import annotations

import sys

import typer

from antaeus_cli.cli import options as opt


def command(ctx: typer.Context, json_output: opt.Json = False) -> None:
    """Create an empty database for production at --db: it charges through a real
    provider only (never the simulator, never by default). Never replaces a file."""
    from antaeus_cli.cli.json_out import write_json
    from antaeus_cli.seeding.service import init
    from antaeus_cli.store.schema import SCHEMA_VERSION

    result = init(ctx.obj.db_path)
    if json_output:
        write_json(
            {
                "database": str(result.db_path),
                "purpose": "production",
                "db_schema_version": SCHEMA_VERSION,
            }
        )
        return
    sys.stdout.write(
        f"created {result.db_path}: an empty production database (schema {SCHEMA_VERSION}, "
        f"readable by its owner only)\n"
        f"  it charges through the provider in ${opt.PROVIDER_ENV} only, never the simulator; "
        "customers and invoices come from your own systems (docs/schema.md)\n"
    )
