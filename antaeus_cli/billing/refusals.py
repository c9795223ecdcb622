"""Credentials the provider refuses in the middle of a pass.

Before a pass claims anything, an adapter checks its credentials once (Stripe: one
request), and a refusal there is a usage error with nothing done. A key revoked while
the pass runs is refused later, after charges went through. The pass then stops as
it does for a signal: nothing more is claimed or sent, the answers in flight are
recorded, the refused attempt ends `not_processed` (a refused request moved nothing),
what was claimed and not sent is handed back, and the run ends `failed`, saying what
it charged before, what it left open, and what to fix. Exit 2, as for any refused
credential: a configuration error that running again will not mend.
"""

from __future__ import annotations

import threading
from datetime import datetime

from antaeus_cli.billing.engine import StopRequest
from antaeus_cli.billing.results import PassCounts
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.domain.words import counted
from antaeus_cli.provider.port import CredentialsRejected, PaymentProvider, ProviderWrapper

STOPPING = "the provider refused the credentials; stopped claiming, settled what was in flight"


class RefusalWatch(ProviderWrapper):
    """The port, asking the pass to stop at the first refusal of its credentials. The
    refusal still reaches the caller, which records what it did to the attempt."""

    def __init__(self, provider: PaymentProvider, stop: StopRequest) -> None:
        super().__init__(provider)
        self._stop = stop
        self._lock = threading.Lock()
        self.refused: CredentialsRejected | None = None  # the first refusal, if any

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        try:
            return self._provider.charge(invoice, idempotency_key)
        except CredentialsRejected as refused:
            self._saw(refused)
            raise

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,
        reference: str | None,
    ) -> Answer | None:
        try:
            return self._provider.lookup(invoice, idempotency_key, since=since, reference=reference)
        except CredentialsRejected as refused:
            self._saw(refused)
            raise

    def _saw(self, refused: CredentialsRejected) -> None:
        with self._lock:
            if self.refused is not None:
                return
            self.refused = refused
        if not self._stop.event.is_set():
            self._stop.request(STOPPING)


def refused_midway(refused: CredentialsRejected, counts: PassCounts) -> str:
    """What a run stopped by a refused credential says: what it did before, what it
    leaves, and the fix."""
    paid = "; ".join(row.formatted for row in counts.paid_totals.rows())
    done = [f"{counted(counts.paid, 'invoice')} paid" + (f" ({paid})" if paid else "")]
    declines = counts.declines
    if declines:
        done.append(f"{counted(declines, 'invoice')} declined")
    left = [
        f"{counted(counts.unknown, 'attempt')} left open, to be looked up by the next pass",
        f"{counted(counts.not_processed, 'invoice')} not processed and "
        f"{counted(counts.released, 'invoice')} handed back unsent, as they were",
    ]
    return (
        f"{refused.refusal} in the middle of the pass; before that it recorded "
        f"{' and '.join(done)}; {'; '.join(left)}; nothing more was sent: {refused.fix}, "
        "then run again"
    )
