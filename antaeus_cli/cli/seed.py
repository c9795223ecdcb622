"""`antaeus seed`: create a database (and the simulated provider's accounts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from antaeus_cli.cli import options as opt
from antaeus_cli.cli import panels


def command(
    ctx: typer.Context,
    customers: Annotated[
        int,
        typer.Option(
            "--customers",
            min=0,
            max=10_000_000,
            metavar="N",
            help="Customers to create.",
            rich_help_panel=panels.WHAT_TO_CREATE,
        ),
    ] = 100,
    invoices_per_customer: Annotated[
        int,
        typer.Option(
            "--invoices-per-customer",
            min=0,
            max=120,
            metavar="N",
            help="Invoices per customer: the first PENDING, the rest PAID in earlier months.",
            rich_help_panel=panels.WHAT_TO_CREATE,
        ),
    ] = 10,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            max=2**63 - 1,
            metavar="N",
            help="Random seed, for reproducible data. Default: random.",
            show_default=False,
            rich_help_panel=panels.WHAT_TO_CREATE,
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="FILE",
            dir_okay=False,
            help="Load a scenario from a JSON fixture instead (see fixtures/).",
            rich_help_panel=panels.WHAT_TO_CREATE,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing database; the old file is kept, renamed.",
            rich_help_panel=panels.DATABASE,
        ),
    ] = False,
    as_of: opt.SeedAsOf = None,
    provider: opt.Provider = None,
    json_output: opt.Json = False,
) -> None:
    """Create a demo database, which may charge through the simulator: by default 100
    customers with 10 invoices each, with a few planted cases so a billing pass shows
    every outcome. For production, use `antaeus init`."""
    import secrets
    from datetime import UTC, datetime

    from antaeus_cli.cli.render_seed import render_seed
    from antaeus_cli.host import is_alive
    from antaeus_cli.provider import sim
    from antaeus_cli.provider.sim_ledger import MEMORY
    from antaeus_cli.seeding.fixtures import load_fixture
    from antaeus_cli.seeding.generate import GenerateOptions, generate
    from antaeus_cli.seeding.service import seed as seed_database

    db_path: Path = ctx.obj.db_path
    spec = opt.provider_spec(provider)
    ledger = None
    if spec.scheme == "sim":
        settings = sim.settings_from_spec(spec)
        if str(settings.ledger) != MEMORY:
            ledger = sim.ledger_path(settings, db_path)
    if from_file is not None:
        scenario = load_fixture(from_file)
    else:
        chosen = seed if seed is not None else secrets.randbelow(1_000_000)
        scenario = generate(
            GenerateOptions(
                as_of=opt.as_of_date(as_of),
                customers=customers,
                invoices_per_customer=invoices_per_customer,
                seed=chosen,
            )
        )
    result = seed_database(
        db_path,
        scenario,
        force=force,
        ledger_path=ledger,
        clock=lambda: datetime.now(UTC),
        is_alive=is_alive,
    )
    render_seed(result, json_output=json_output)
