"""Hand-written fakes for the ports. They record what happened; tests assert on that."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.provider.port import (
    CurrencyMismatch,
    CustomerNotFound,
    NetworkError,
    ProviderError,
)

# Scripted behaviours, consumed one per call for an invoice; the last one repeats.
CHARGED = "charged"
DECLINED = "declined"
NOT_FOUND = "not_found"
MISMATCH = "mismatch"
LOST_REQUEST = "lost_request"  # network error before the provider saw the request
LOST_RESPONSE = "lost_response"  # the provider booked it, the answer was lost
REFUSED = "refused"  # an unnamed definitive provider error


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing handles it."""


@dataclass
class FakeProvider:
    """An idempotent provider with a script per invoice.

    It keeps its own books like a real provider: the first answer for a key is
    recorded and every replay of the key returns it, without moving money again.
    """

    script: dict[int, list[str]] = field(default_factory=dict)
    default: str = CHARGED
    io_bound: bool = False
    db_path: Path | None = None  # when set, each call checks its attempt row was committed
    crash_after_booking: set[int] = field(default_factory=set)
    booked: dict[str, str] = field(default_factory=dict)  # key -> first answer
    calls: list[tuple[int, str]] = field(default_factory=list)  # (invoice id, key)
    charged_keys: list[str] = field(default_factory=list)
    after_call: Callable[[int], None] | None = None  # told the invoice id after every call
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def description(self) -> str:
        return "fake://"

    @property
    def waits_on_io(self) -> bool:
        return self.io_bound

    def charge(self, invoice: Invoice, idempotency_key: str) -> bool:
        with self._lock:
            self.calls.append((invoice.id, idempotency_key))
            if self.db_path is not None:
                _assert_attempt_committed(self.db_path, idempotency_key)
            steps = self.script.get(invoice.id, [self.default])
            step = steps.pop(0) if len(steps) > 1 else steps[0]
            if step == LOST_REQUEST:
                raise NetworkError("request lost")
            answer = self.booked.get(idempotency_key)
            if answer is None:
                answer = self._book(step)
                self.booked[idempotency_key] = answer
                if answer == CHARGED:
                    self.charged_keys.append(idempotency_key)
            if invoice.id in self.crash_after_booking:
                self.crash_after_booking.discard(invoice.id)
                raise Crash(f"crashed after booking invoice {invoice.id}")
            if self.after_call is not None:
                self.after_call(invoice.id)
            if step == LOST_RESPONSE:
                raise NetworkError("response lost")
        return _answer(answer)

    @staticmethod
    def _book(step: str) -> str:
        return CHARGED if step in (LOST_RESPONSE, LOST_REQUEST) else step

    def close(self) -> None:
        pass

    def charges_for(self, invoice_id: int) -> list[str]:
        return [key for key in self.charged_keys if f"-inv-{invoice_id}-" in key]


def _answer(answer: str) -> bool:
    if answer == CHARGED:
        return True
    if answer == DECLINED:
        return False
    if answer == NOT_FOUND:
        raise CustomerNotFound("no such customer")
    if answer == MISMATCH:
        raise CurrencyMismatch("account in another currency")
    raise ProviderError("refused for a reason nobody named")


def _assert_attempt_committed(db_path: Path, key: str) -> None:
    """Read through a second connection: only committed rows are visible there."""
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute(
            "SELECT outcome FROM payment_attempt WHERE idempotency_key = ?", (key,)
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise AssertionError(f"provider called with {key} before its attempt row was committed")


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def dead(_holder: ProcessIdentity) -> bool:
    return False


def alive(_holder: ProcessIdentity) -> bool:
    return True


def ids(rows: Iterable[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in rows]
