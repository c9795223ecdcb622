"""Holds for the month kept true: an invoice held because another invoice bills its
customer's month says what became of that twin once it was charged, voided, given up
or deleted (domain.judgement.month_hold_now), rather than "invoice 8 bills the same
month" for ever.

Runs inside a write transaction its caller opened: at the end of a pass, and in the
transaction of a void. It reads the invoices held for an operator only (their partial
index), so it costs a pass what the held invoices are, not what the invoices are.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from antaeus_cli.domain.judgement import MonthNow, month_hold_now, twin_named
from antaeus_cli.store import careful
from antaeus_cli.store.claims import DUPLICATE
from antaeus_cli.store.database import lenient_text

# The invoices held for their month, with what bills it beside each now (DUPLICATE),
# and another invoice's charge for it that succeeded or may have, with no hold's
# exemption: a hold that names a twin quotes no key. The reason is read as bytes: one
# written by hand that is not UTF-8 is shown, and never reworded.
_HELD_FOR_THE_MONTH = (
    "SELECT i.id, i.customer_id, substr(i.due_date, 1, 7), CAST(i.failure_detail AS BLOB), "
    f"{DUPLICATE}, "
    "(SELECT m.invoice_id FROM payment_attempt m INDEXED BY payment_attempt_period "
    "WHERE m.customer_id = i.customer_id AND m.period = substr(i.due_date, 1, 7) "
    "AND m.invoice_id <> i.id AND (m.outcome = 'charged' OR m.finished_at IS NULL) LIMIT 1) "
    "FROM invoice i INDEXED BY invoice_operator WHERE i.status = 'NEEDS_OPERATOR' "
    "AND i.failure_code = 'duplicate_period' AND i.failure_detail LIKE 'invoice %'"
)
# The twin a hold names: its status, and whether it still bills the held invoice's
# month (as DUPLICATE counts: the same customer and month, neither given up nor void).
_NAMED = (
    "SELECT status, customer_id IS ? AND substr(due_date, 1, 7) IS ? "
    "AND status <> 'UNCOLLECTIBLE' AND status <> 'VOID' FROM invoice WHERE id = ?"
)
_REWORD = (
    "UPDATE invoice SET failure_detail = ?, updated_at = ? WHERE id = ? "
    "AND status = 'NEEDS_OPERATOR' AND failure_code = 'duplicate_period' "
    "AND CAST(failure_detail AS BLOB) = ?"
)


def refresh_month_holds(conn: sqlite3.Connection, *, now: datetime) -> list[tuple[int, str]]:
    """Reword every hold for the month whose twin no longer is what it says; return
    the invoices reworded, with what their holds say now. The invoices stay held, for
    the same code: only an operator's word releases them. A row whose rewording its
    values (or an operator's trigger) refuse keeps its words: nothing else stops."""
    reworded = []
    for invoice_id, customer_id, month, raw, twin, charged_by in conn.execute(
        _HELD_FOR_THE_MONTH
    ).fetchall():
        detail = lenient_text(raw)
        named = twin_named(detail)
        if named is None or detail.encode() != raw:
            continue
        found = conn.execute(_NAMED, (customer_id, month, named)).fetchone()
        text = month_hold_now(
            MonthNow(
                customer_id=customer_id,
                month=str(month),
                named=named,
                named_status=None if found is None else found[0],
                named_bills=found is not None and bool(found[1]),
                twin=twin,
                charged_by=charged_by,
            )
        )
        if text == detail:
            continue
        try:
            with careful.savepoint(conn):
                changed = conn.execute(_REWORD, (text, now.isoformat(), invoice_id, raw)).rowcount
        except Exception as exc:
            if not careful.is_row_error(exc):
                raise
            continue
        if changed:
            reworded.append((int(invoice_id), text))
    return reworded
