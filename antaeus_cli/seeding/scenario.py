"""A data set to seed: customers, their provider accounts, and invoices. Pure data.

A scenario hands out its rows through functions, so a generated million-invoice
data set is produced row by row, never held in memory, and can be read twice (once
for the database, once for the provider's accounts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from antaeus_cli.provider.sim_ledger import Account


class SeedCustomer(NamedTuple):
    id: int
    currency: str
    account: Account | None  # None: the provider does not know this customer
    provider_ref: str | None = None  # the provider's id for the customer (Stripe: cus_...)
    email: str | None = None  # where their notices go; None: they get no e-mail
    timezone: str | None = None  # an IANA zone name; None: the company's zone
    locale: str | None = None  # a canonical BCP 47 tag (da-DK); None: the company's locale


class SeedInvoice(NamedTuple):
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
    customers: Callable[[], Iterable[SeedCustomer]]
    invoices: Callable[[], Iterable[SeedInvoice]]
    description: str = ""
    # What was planted to make every outcome show up: label -> invoice ids.
    planted: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        customers: Sequence[SeedCustomer],
        invoices: Sequence[SeedInvoice],
        description: str = "",
    ) -> Scenario:
        """A scenario held in lists, such as a fixture file."""
        return cls(lambda: customers, lambda: invoices, description)
