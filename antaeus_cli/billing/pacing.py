"""--max-rate: pacing provider requests to a provider's rate limit.

A generic cell rate algorithm (the scheduling form of a token bucket): every request
books the next slot, `1/rate` seconds after the previous one, and may go up to
`burst - 1` slots early. So over any span of T seconds at most `burst + rate * T`
requests are sent, and a long pass runs at `rate` exactly. The burst is one
concurrency window: the requests that were in flight together when a pass starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.provider.port import PaymentProvider


class Pacer:
    """Thread-safe: call threads book slots under a lock and wait outside it."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._interval = 1.0 / rate
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._next: float | None = None  # the theoretical time of the next request

    def book(self) -> float:
        """Book the next slot; return how long to wait before sending (0: send now)."""
        with self._lock:
            now = self._clock()
            slot = now if self._next is None else max(self._next, now)
            self._next = slot + self._interval
            earliest = slot - (self._burst - 1) * self._interval
        return max(0.0, earliest - now)

    def wait_for_slot(self, stop: threading.Event) -> bool:
        """Block until a request may be sent; False if the pass is stopping meanwhile
        (the request must then not be sent)."""
        delay = self.book()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()


class NotSent(Exception):
    """The pass began stopping while a request waited for its slot: it was not sent."""


class PacedProvider:
    """The port, with every request (retries included) waiting for a slot first."""

    def __init__(self, provider: PaymentProvider, pacer: Pacer, stop: threading.Event) -> None:
        self._provider = provider
        self._pacer = pacer
        self._stop = stop

    @property
    def description(self) -> str:
        return self._provider.description

    @property
    def waits_on_io(self) -> bool:
        return self._provider.waits_on_io

    @property
    def key_retention(self) -> timedelta | None:
        return self._provider.key_retention

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        if not self._pacer.wait_for_slot(self._stop):
            raise NotSent(idempotency_key)
        return self._provider.charge(invoice, idempotency_key)

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,
        reference: str | None,
    ) -> Answer | None:
        if not self._pacer.wait_for_slot(self._stop):
            raise NotSent(idempotency_key)
        return self._provider.lookup(invoice, idempotency_key, since=since, reference=reference)

    def close(self) -> None:
        self._provider.close()
