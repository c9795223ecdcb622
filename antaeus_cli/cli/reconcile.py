"""`antaeus reconcile`: read the charges a restored database forgot back into its
ledger."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels


def command(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="INSTANT",
            help="Read the provider's charges created since this instant with an offset. "
            "Default: since the ledger's newest attempt, less 10 minutes.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_RECONCILE,
        ),
    ] = None,
    provider: opt.Provider = None,
    json_output: opt.Json = False,
) -> None:
    """Record the charges the provider holds under this database's keys that its ledger
    does not know (a database restored from a backup taken before them) as open
    attempts: the next pass looks each up under its key and settles it before it
    charges anything. Sends no charge."""
    from datetime import UTC, datetime

    from antaeus_cli.billing.admission import admit
    from antaeus_cli.billing.reconcile import reconcile
    from antaeus_cli.domain.purpose import provider_refusal
    from antaeus_cli.errors import ProviderSpecError
    from antaeus_cli.host import current_process, is_alive
    from antaeus_cli.provider import registry
    from antaeus_cli.store.database import Store

    start = None if since is None else opt.instant(since, "--since")
    spec = opt.provider_spec(provider)
    store = Store.open(ctx.obj.db_path)
    try:
        refused = provider_refusal(
            store.purpose, spec.scheme, named=opt.provider_named(provider), setting=opt.PROVIDER_ENV
        )
        if refused is not None:
            raise ProviderSpecError(refused)
        opened = registry.open_provider(spec, db_path=store.path)
        try:
            admit(store, opened, restored_ok=True)
            result = reconcile(
                store, opened, since=start, now=datetime.now(UTC), me=current_process(),
                is_alive=is_alive,
            )  # fmt: skip
        finally:
            opened.close()
    finally:
        store.close()
    if json_output:
        from antaeus_cli.cli.json_out import write_json

        write_json(
            {
                "since": None if result.since is None else result.since.isoformat(),
                "looked_at": result.looked_at,
                "adopted": result.adopted,
                "refused": result.refused,
                "why": result.why,  # each refused key's reason
                "run_id": result.run_id,
            }
        )
    else:
        from antaeus_cli.cli.text import safe
        from antaeus_cli.domain.words import counted

        sys.stdout.write(
            f"reconcile: the provider lists {counted(result.looked_at, 'charge')} under this "
            f"database's keys; {counted(len(result.adopted), 'forgotten charge')} recorded "
            "as open attempts, which the next pass settles by their keys\n"
        )
        for key in result.refused:
            sys.stdout.write(f"  not recorded ({result.why[key]}): {safe(key)}\n")
    from antaeus_cli.cli.exit_codes import ExitCode

    raise typer.Exit(ExitCode.USAGE if result.refused else ExitCode.OK)
