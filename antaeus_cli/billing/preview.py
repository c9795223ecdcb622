"""--dry-run: what a pass would do, read from one snapshot, with no write at all.

No lock is taken and no run is recorded, so a dry run is safe while a real pass
is running; its figures describe the database as it was when it started.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence

from antaeus_cli.billing.results import (
    LISTED_LIMIT,
    Command,
    OperatorItem,
    PreviewItem,
    PreviewResult,
    ZoneDue,
)
from antaeus_cli.billing.sources import check_named
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.guards import AmountGuard
from antaeus_cli.domain.invoice import InvoiceRow, Rejection, idempotency_key
from antaeus_cli.domain.judgement import Path, Wait, judge, waits_for_customer
from antaeus_cli.domain.money import Totals
from antaeus_cli.store import claims, ledger
from antaeus_cli.store.database import Store


def preview_pass(
    store: Store,
    command: Command,
    clock: PassClock,
    *,
    invoice_ids: Sequence[int] = (),
    batch_size: int = 1000,
    amount_guard: AmountGuard = AmountGuard(),  # noqa: B008 - frozen
) -> PreviewResult:
    namespace = store.namespace
    totals = Totals()
    listed: list[PreviewItem] = []
    operator_items: list[OperatorItem] = []
    needs_operator = 0
    awaiting_items: list[OperatorItem] = []
    awaiting = 0
    with store.reading() as conn:
        conn.execute("BEGIN")  # one read snapshot for the whole preview
        try:
            to_replay = ledger.count_open_attempts(conn)
            names = claims.zones(conn)
            due_in: Counter[object] = Counter()
            days = claims.days_sql(clock.days(names))
            batches = _batches(
                conn, command, days, invoice_ids, batch_size, amount=amount_guard, clock=clock
            )
            # what the pass would do, judged as it would judge it (a bill pass charges
            # what a tripped breaker handed back too, in its second walk)
            path = _path(command, invoice_ids)
            for rows in batches:
                for row in rows:
                    on = Path.BILL_HANDED_BACK if path is Path.BILL and row.handed_back else path
                    checked = judge(on, row, clock.local_date(row.timezone))
                    if isinstance(checked, Wait):
                        continue  # in flight (counted in to_replay), or not due yet
                    if isinstance(checked, Rejection) and waits_for_customer(checked):
                        awaiting += 1
                        if len(awaiting_items) < LISTED_LIMIT:
                            awaiting_items.append(
                                OperatorItem(row.id, checked.code.value, checked.detail)
                            )
                        continue
                    if isinstance(checked, Rejection):
                        needs_operator += 1
                        if len(operator_items) < LISTED_LIMIT:
                            operator_items.append(
                                OperatorItem(row.id, checked.code.value, checked.detail)
                            )
                        continue
                    due_in[row.timezone] += 1
                    totals.add(checked.amount.currency.value, checked.amount.minor)
                    if len(listed) < LISTED_LIMIT:
                        key = idempotency_key(namespace, row.id, row.next_attempt_no)
                        listed.append(
                            PreviewItem(row.id, row.customer_id, str(checked.amount), key)
                        )
        finally:
            conn.execute("ROLLBACK")
    return PreviewResult(
        command=command,
        as_of=clock.company_date,
        as_of_instant=clock.as_of.instant,
        zones=_zones(clock, names, due_in),
        to_replay=to_replay,
        to_charge=totals.rows(),
        listed=listed,
        operator_items=operator_items,
        needs_operator=needs_operator,
        awaiting_items=awaiting_items,
        awaiting_customer=awaiting,
    )


def _zones(clock: PassClock, names: list[str | None], due_in: Counter[object]) -> list[ZoneDue]:
    """The company's zone, then the zones customers have (the first LISTED_LIMIT by name),
    each with its local date now."""
    zones = [ZoneDue(None, clock.company_date, due_in[None])]
    for name in [name for name in names if name is not None][:LISTED_LIMIT]:
        local = clock.local_date(name)
        zones.append(ZoneDue(name, local, due_in[name], known=local is not None))
    return zones


def _path(command: Command, invoice_ids: Sequence[int]) -> Path:
    if invoice_ids:
        return Path.NAMED
    return Path.BILL if command is Command.BILL else Path.RETRY


def _batches(
    conn: sqlite3.Connection,
    command: Command,
    days: claims.Days,
    invoice_ids: Sequence[int],
    batch_size: int,
    *,
    amount: AmountGuard,
    clock: PassClock,
) -> Iterator[list[InvoiceRow]]:
    """Due invoices a batch at a time (keyset pagination), never all in memory."""
    if invoice_ids:
        found = claims.invoices_by_id(conn, invoice_ids, claims.Guards(amount))
        check_named(found, invoice_ids, clock)
        yield [found[i] for i in invoice_ids]
        return
    due = claims.Due.BILL if command is Command.BILL else claims.Due.RETRY
    after: float = claims.BEFORE_FIRST
    while rows := claims.due_batch(conn, due, days, after, batch_size, amount=amount):
        yield rows
        after = rows[-1].id
