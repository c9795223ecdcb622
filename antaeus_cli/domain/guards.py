"""Guard rails on amounts: what looks like a mistake is held before any provider call. Pure.

The duplicate-period guard needs no setting; it lives in `store.claims.DUPLICATE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_ANOMALY_FACTOR = 10
DEFAULT_ANOMALY_HISTORY = 3


@dataclass(frozen=True, slots=True)
class AmountGuard:
    """Hold an invoice far above what its customer usually pays.

    What a customer usually pays is the median of their PAID invoices in the invoice's
    currency; with an even number of them, the higher of the two middle ones, so a
    guard never holds more than it would with the average of the two. An invoice is
    unusual when its amount is more than `factor` times that median, and held only
    when the customer has at least `history` paid invoices to judge by: with fewer,
    nothing is usual yet. `factor` 0 turns the guard off.

    The one definition. `store.claims.ANOMALY` says the same in SQL for speed, by
    counting: the amount exceeds `factor` times the median exactly when more than
    half of the paid amounts are below amount / factor. A property test pins the two.
    """

    factor: int = DEFAULT_ANOMALY_FACTOR
    history: int = DEFAULT_ANOMALY_HISTORY

    @property
    def on(self) -> bool:
        return self.factor > 0

    def usual(self, amount: int, paid: Sequence[int]) -> int | None:
        """The median `amount` is held against, or None when it is not unusual."""
        if not self.on or not paid or len(paid) < self.history:
            return None
        median = sorted(paid)[len(paid) // 2]
        return median if amount > self.factor * median else None


GUARDS_OFF = AmountGuard(factor=0)
