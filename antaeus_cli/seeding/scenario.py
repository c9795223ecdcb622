"""A data set to seed: customers, their provider accounts, and invoices. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from antaeus_cli.provider.sim_ledger import Account


@dataclass(frozen=True, slots=True)
class SeedCustomer:
    id: int
    currency: str
    account: Account | None  # None: the provider does not know this customer


@dataclass(frozen=True, slots=True)
class SeedInvoice:
    id: int
    customer_id: int
    amount: int
    currency: str
    due_date: date
    status: str = "PENDING"
    decline_count: int = 0
    next_retry_on: date | None = None


@dataclass(slots=True)
class Scenario:
    customers: list[SeedCustomer]
    invoices: list[SeedInvoice]
    description: str = ""
    # What was planted to make every outcome show up: label -> invoice or customer ids.
    planted: dict[str, list[int]] = field(default_factory=dict)
