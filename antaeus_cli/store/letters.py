"""What `notify --preview` reads: a customer's latest notice of a kind, or the facts a
specimen of one is written from."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.store.database import lenient_text
from antaeus_cli.store.deliveries import SELECT_NOTICES, Pending, read_pending

_LATEST = (
    f"{SELECT_NOTICES}WHERE n.kind = :kind AND n.attempt_id IN "
    "(SELECT id FROM payment_attempt WHERE customer_id = :customer) ORDER BY n.id DESC LIMIT 1"
)
_CARD = (
    "SELECT c.email, c.timezone, c.locale, c.provider_ref, c.currency, i.id, i.amount, "
    "i.currency FROM customer c LEFT JOIN invoice i ON i.id = (SELECT max(id) FROM invoice "
    "WHERE customer_id = c.id) WHERE c.id = :customer"
)


class CustomerCard(NamedTuple):
    email: str | None
    zone: str | None
    locale: str | None
    provider_ref: str | None
    invoice_id: int  # 0: the customer has no invoice
    amount: int
    currency: str


def latest_notice(
    conn: sqlite3.Connection, *, customer_id: int, kind: NoticeKind
) -> Pending | None:
    """The customer's latest notice of `kind`, whatever became of it; None if there is
    none, or it cannot be read (a row edited by hand)."""
    row = conn.execute(_LATEST, {"kind": kind.value, "customer": customer_id}).fetchone()
    if row is None:
        return None
    try:
        return read_pending(row)
    except (ValueError, TypeError):
        return None


def customer_card(conn: sqlite3.Connection, customer_id: int) -> CustomerCard | None:
    """A customer's facts for a specimen notice; None: no such customer."""
    row = conn.execute(_CARD, {"customer": customer_id}).fetchone()
    if row is None:
        return None
    email, zone, locale, ref, currency, invoice_id, amount, invoice_currency = row
    whole = isinstance(amount, int) and amount > 0 and invoice_id is not None
    return CustomerCard(
        _text(email),
        _text(zone),
        _text(locale),
        _text(ref),
        int(invoice_id) if whole else 0,
        int(amount) if whole else 1000,
        str(_text(invoice_currency) if whole else _text(currency)),
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return lenient_text(value) if isinstance(value, bytes) else str(value)
