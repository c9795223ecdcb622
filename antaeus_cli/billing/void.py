"""`antaeus void`: an operator's word that invoices must never be charged.

The invoices named are judged (domain.voiding) and voided in one write transaction,
all or none: one that must not be voided (paid, charged, a charge open or in doubt,
not there) refuses the whole command, naming every reason, and nothing is written.
Each void is recorded in `voiding` with the operator's reason, the moment, who ran it,
and the hold the invoice showed; the notices of its declines not yet sent are
withdrawn; and an invoice held because a voided one billed the same month says so
(store.holds), and stays held until an operator releases it. A dry run judges the
same from a read-only snapshot and writes nothing.

No pass lock is taken: a void is one short transaction, and a pass running beside it
claims each batch in a write transaction of its own, so it either claimed an invoice
before (the void is refused: a charge is open) or finds it VOID after (the judgement
leaves it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from antaeus_cli.domain.invoice import InvoiceStatus
from antaeus_cli.domain.voiding import VoidFacts, reason_refusal, refusal
from antaeus_cli.errors import InputError, NotVoidable
from antaeus_cli.store.database import Store


@dataclass(frozen=True, slots=True)
class Operator:
    """Who voids: the login, and the process on its machine."""

    user: str
    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class VoidResult:
    dry_run: bool
    reason: str
    at: datetime
    by: Operator
    voided: list[VoidFacts] = field(default_factory=list)  # as they were, in the order named
    already: list[VoidFacts] = field(default_factory=list)  # VOID before: left as they are
    notices_withdrawn: int = 0
    # Invoices held for their month whose hold named one voided as its twin: what their
    # holds say now (still held: only an operator's word releases them).
    reworded: list[tuple[int, str]] = field(default_factory=list)


def void_invoices(
    store: Store,
    invoice_ids: Sequence[int],
    *,
    reason: str,
    now: datetime,
    by: Operator,
    dry_run: bool = False,
) -> VoidResult:
    """Void the invoices named, or (`dry_run`) say what voiding them would do."""
    wrong = reason_refusal(reason)
    if wrong is not None:
        raise InputError(wrong)
    ids = list(dict.fromkeys(invoice_ids))
    words = reason.strip()
    if dry_run:
        with store.view() as view:
            found = view.void_facts(ids)
        voided, already = _judged(ids, found)
        return VoidResult(True, words, now, by, voided, already)
    with store.work() as work:
        voided, already = _judged(ids, work.void_facts(ids))
        withdrawn = work.void(
            voided, reason=words, now=now, voided_by=by.user, host=by.host, pid=by.pid
        )
        reworded = work.refresh_month_holds(now=now) if voided else []
    return VoidResult(False, words, now, by, voided, already, withdrawn, reworded)


def _judged(
    ids: Sequence[int], found: dict[int, VoidFacts]
) -> tuple[list[VoidFacts], list[VoidFacts]]:
    """The invoices to void and those VOID already; every refusal in one line."""
    problems = [why for invoice_id in ids if (why := refusal(invoice_id, found.get(invoice_id)))]
    if problems:
        raise NotVoidable("; ".join(problems) + "; nothing was voided")
    chosen = [found[invoice_id] for invoice_id in ids]
    return (
        [one for one in chosen if one.status is not InvoiceStatus.VOID],
        [one for one in chosen if one.status is InvoiceStatus.VOID],
    )
