"""What `--dry-run` returns: what a pass would do, computed without writing anything.
The CLI renders it; nothing here prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from antaeus_cli.billing.results import Command, OperatorItem
from antaeus_cli.domain.money import CurrencyTotal


@dataclass(frozen=True, slots=True)
class PreviewItem:
    invoice_id: int
    customer_id: object
    amount: str
    key: str


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """What a pass would do, computed without writing anything."""

    command: Command
    as_of: date
    to_replay: int
    to_charge: list[CurrencyTotal]
    listed: list[PreviewItem]
    operator_items: list[OperatorItem]
    needs_operator: int
    as_of_instant: datetime | None = None
    # holds that wait for the customer (the card said never), not for an operator
    awaiting_items: list[OperatorItem] = field(default_factory=list)
    awaiting_customer: int = 0
    zones: list[ZoneDue] = field(default_factory=list)
    # Why a run cap would stop the pass (None: it would not), and the due invoices it
    # would leave: the one that would take it past the cap and every one after it.
    stop_reason: str | None = None
    beyond_cap: int = 0
    beyond_cap_totals: list[CurrencyTotal] = field(default_factory=list)  # chargeable ones
    replays_kept_open: int = 0  # open attempts the cap keeps open: looked up only


@dataclass(frozen=True, slots=True)
class ZoneDue:
    """A zone customers have, its local date at the pass's moment, how many of its
    invoices are due (the pass would charge them, hold them, or leave them at a run
    cap), and how many of those it would hold, for an operator or the customer. None is
    the company's zone; `known` is False for a name the zone database does not know,
    whose invoices are held."""

    zone: str | None
    local_date: date | None
    due: int
    known: bool = True
    held: int = 0
