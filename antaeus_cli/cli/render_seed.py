"""Rendering the result of `antaeus seed`."""

from __future__ import annotations

import sys

from antaeus_cli.cli.json_out import write_json
from antaeus_cli.cli.text import safe
from antaeus_cli.domain.words import counted
from antaeus_cli.seeding.service import SeedResult


def render_seed(result: SeedResult, *, json_output: bool) -> None:
    if json_output:
        payload = {
            "database": str(result.db_path),
            "provider_ledger": None if result.ledger_path is None else str(result.ledger_path),
            "description": result.description,
            "customers": result.customers,
            "provider_accounts": result.accounts,
            "invoices": result.invoices,
            "planted": result.planted,
            "moved_aside": [str(p) for p in result.moved_aside],
        }
        write_json(payload)
        return
    out = sys.stdout
    for path in result.moved_aside:
        out.write(f"kept the replaced file as {path}\n")
    statuses = ", ".join(f"{n} {status}" for status, n in result.invoices.items()) or "none"
    out.write(
        f"seeded {result.db_path}: {counted(result.customers, 'customer')}; invoices: {statuses}\n"
    )
    if result.description:
        out.write(f"  {safe(result.description)}\n")
    if result.ledger_path is not None:
        out.write(
            f"  simulated provider: {counted(result.accounts, 'account')} in {result.ledger_path}\n"
        )
    for label, ids in result.planted.items():
        shown = ", ".join(str(i) for i in ids[:8]) + (" ..." if len(ids) > 8 else "")
        out.write(f"  planted, {label}: invoice {shown}\n")
