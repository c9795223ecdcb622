"""`antaeus report`: where every invoice stands, per status and currency, and what
needs a human. Read-only; takes no lock, so it runs safely beside a pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from antaeus_cli.domain import overdue
from antaeus_cli.domain.money import CurrencyTotal, format_minor
from antaeus_cli.store.database import Store

RECENT_RUNS = 10
LISTED = 100


@dataclass(frozen=True, slots=True)
class StatusTotal:
    status: str
    currency: str
    count: int
    amount_minor: int

    @property
    def amount(self) -> str:
        return format_minor(self.amount_minor, str(self.currency))


@dataclass(frozen=True, slots=True)
class Report:
    totals: list[StatusTotal]
    collected: list[CurrencyTotal]  # charged through antaeus, per the ledger
    needs_operator: list[dict[str, Any]]  # the first `limit` of them
    needs_operator_total: int
    awaiting_customer: list[dict[str, Any]]  # the first `limit` of them
    voided: list[dict[str, Any]]  # VOID invoices, with when, why and who: the first `limit`
    voided_total: int
    retries: list[dict[str, Any]]  # FAILED invoices by their next try, the first `limit`
    retries_due: list[tuple[str, int]]
    open_attempts: int
    open_listed: list[dict[str, Any]]  # the oldest open attempts, with why they are open
    overdue: list[dict[str, Any]]  # open attempts a person must settle (domain.overdue)
    overdue_total: int
    declines: list[dict[str, Any]]  # settled declines per provider code and class
    orphans: list[dict[str, Any]]  # charges whose invoice was deleted while in flight
    running: str | None  # the pass holding the lock right now, if any
    runs: list[dict[str, Any]]
    notifications: list[dict[str, Any]]  # the outbox per status and kind
    notifications_failed: list[dict[str, Any]]  # failed or skipped, with the reason
    customers_without_email: int


def build_report(
    store: Store,
    *,
    recent_runs: int = RECENT_RUNS,
    limit: int | None = LISTED,
    now: datetime | None = None,
) -> Report:
    """The report; `limit` caps the lists of invoices and of overdue attempts (None:
    all of them); `now` (the clock by default) is what an open attempt's age counts to."""
    now = now or datetime.now(UTC)
    listed = LISTED if limit is None else limit
    with store.report_view(any_text=True) as view:  # one snapshot for every section
        late = overdue.overdue(view.looked_up_often(), now)
        totals = [StatusTotal(*row) for row in view.totals()]
        holder = view.lock_holder()
        return Report(
            totals=totals,
            collected=[
                CurrencyTotal(currency, count, minor) for currency, count, minor in view.collected()
            ],
            needs_operator=_formatted(view.needs_operator(limit)),
            needs_operator_total=sum(t.count for t in totals if t.status == "NEEDS_OPERATOR"),
            awaiting_customer=_formatted(view.awaiting_customer(limit)),
            voided=_formatted(view.voided(limit)),
            voided_total=sum(t.count for t in totals if t.status == "VOID"),
            retries=_formatted(view.retries_scheduled(limit)),
            retries_due=view.retries_due(),
            open_attempts=view.count_open_attempts(),
            open_listed=view.open_attempts(listed),
            overdue=[overdue.described(attempt) for attempt in late[:limit]],
            overdue_total=len(late),
            declines=[
                {"code": code, "class": klass, "count": count}
                for code, klass, count in view.declines_by_code()
            ],
            orphans=view.charges_without_invoice(listed),
            running=None if holder is None else str(holder),
            runs=view.recent_runs(recent_runs),
            notifications=[
                {"status": status, "count": count}
                for status, count in view.notifications_by_status()
            ],
            notifications_failed=view.failed_notifications(limit),
            customers_without_email=view.customers_without_email(),
        )


def _formatted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each invoice row with its amount as people read it, in its own currency."""
    for row in rows:
        amount, currency = row["amount"], row["currency"]
        row["amount_formatted"] = (
            format_minor(amount, str(currency)) if type(amount) is int else str(amount)
        )
    return rows
