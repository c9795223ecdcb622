"""Voiding an invoice: an operator's word that it must never be charged. Pure.

An invoice is voided only while voiding it moves no money and hides none: the money
facts win, and the ledger says what was charged. So it is refused for

- an invoice that does not exist;
- one with an attempt open (`started`, `unknown`, `processing`): money may have moved
  under its key, and only the replay of that key can say (the invoice is `PROCESSING`,
  or still where it was claimed from);
- one `PAID`, or one any attempt of its own charged whatever its status says (set back
  by hand): money moved; a refund is made at the provider, never by voiding;
- one `PROCESSING` with no attempt open (set so by hand): its charge is not known.

Every other status may be voided: `PENDING` (billed by mistake), `FAILED` and
`UNCOLLECTIBLE` (a debt written off), `NEEDS_OPERATOR` and `AWAITING_CUSTOMER` (a hold
that will never be released). A charge for the same customer's month made by another
invoice refuses nothing: voiding the twin of a month already paid is what the void is
for, and it moves no money. An invoice already `VOID` is left as it is, and said so.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from antaeus_cli.domain.invoice import InvoiceStatus

MAX_REASON = 500  # characters; the schema's CHECK on voiding.reason says the same
VOIDABLE = frozenset(
    {
        InvoiceStatus.PENDING,
        InvoiceStatus.FAILED,
        InvoiceStatus.NEEDS_OPERATOR,
        InvoiceStatus.UNCOLLECTIBLE,
        InvoiceStatus.AWAITING_CUSTOMER,
    }
)


class VoidFacts(NamedTuple):
    """An invoice as the store finds it, with the money facts that decide a void."""

    invoice_id: int
    customer_id: object
    amount: object
    currency: object
    due_date: object
    status: InvoiceStatus
    failure_code: object  # the hold it shows, as stored
    failure_detail: object
    open_key: object = None  # the key of an attempt of its own still open
    charged_key: object = None  # the key of an attempt of its own that charged
    # The key of another invoice's charge for the customer's month (its due date's)
    # that succeeded or may have: voiding this one moves no money either way.
    month_charged: object = None
    voided_at: object = None  # when it was voided, if it is VOID (its latest voiding)
    void_reason: object = None


def refusal(invoice_id: int, facts: VoidFacts | None) -> str | None:  # noqa: PLR0911
    """Why `invoice_id` must not be voided, in words for the operator; None: it may be
    (or is VOID already)."""
    if facts is None:
        return f"invoice {invoice_id} does not exist"
    if facts.status is InvoiceStatus.VOID:
        return None
    if facts.open_key is not None:
        return (
            f"invoice {invoice_id} has a charge open or in doubt (key {_key(facts.open_key)}): "
            "money may have moved; let a pass settle it first ('antaeus retry-failed' looks it "
            "up; 'antaeus report --section open-attempts' says why it is open), then void it "
            "if it was not charged"
        )
    if facts.status is InvoiceStatus.PAID:
        under = "" if facts.charged_key is None else f" under key {_key(facts.charged_key)}"
        return (
            f"invoice {invoice_id} is PAID{under}: money moved, and a paid invoice is never "
            "voided; refund it at the provider"
        )
    if facts.charged_key is not None:
        return (
            f"invoice {invoice_id} is {facts.status.value}, but the ledger says key "
            f"{_key(facts.charged_key)} charged it (set back by hand?): money moved, so it is "
            "never voided; mark it PAID, or refund it at the provider"
        )
    if facts.status not in VOIDABLE:
        return (
            f"invoice {invoice_id} is {facts.status.value}: its charge's outcome is not known, "
            "so it is not voided; let a pass settle it first"
        )
    return None


def reason_refusal(reason: str) -> str | None:
    """Why `reason` cannot be recorded as the words of a void; None: it can. One line
    of 1 to MAX_REASON characters, none of them a control character or a line break."""
    text = reason.strip()
    if not text:
        return "--reason must say why the invoice is voided: it is recorded with the void"
    if len(text) > MAX_REASON:
        return f"--reason is {len(text):,} characters long; at most {MAX_REASON} are recorded"
    if any(unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") for char in text):
        return "--reason must be one line of text, without control characters"
    return None


def _key(key: object) -> str:
    return repr(str(key)[:80])
