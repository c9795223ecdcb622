"""Hand-written fakes for the ports. They record what happened; tests assert on that."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from antaeus_cli.channels.port import Message
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import CHARGED as CHARGED_ANSWER
from antaeus_cli.domain.outcomes import Answer, AnswerKind
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.provider.port import (
    CredentialsRejected,
    LookupUnavailable,
    NetworkError,
    RateLimited,
)
from antaeus_cli.store import claims

# Scripted behaviours, consumed one per call for an invoice; the last one repeats.
CHARGED = "charged"
DECLINED = "declined"
NOT_FOUND = "not_found"
MISMATCH = "mismatch"
LOST_REQUEST = "lost_request"  # network error before the provider saw the request
LOST_RESPONSE = "lost_response"  # the provider booked it, the answer was lost
REFUSED = "refused"  # an unnamed definitive provider error
HARD = "declined_hard"  # a lost card
NEEDS_CUSTOMER = "needs_customer"  # 3-D Secure required off-session
PROCESSING = "processing"  # accepted; settles as charged on the next look-up
RATE_LIMITED = "rate_limited"  # HTTP 429: nothing processed
KEY_REFUSED = "key_refused"  # HTTP 401: the credentials were refused, nothing processed


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing handles it."""


@dataclass
class FakeProvider:
    """An idempotent provider with a script per invoice.

    It keeps its own books like a real provider: the first answer for a key is
    recorded and every replay of the key returns it, without moving money again. An
    answer that carries a reference (a charge processing, or waiting for the customer)
    carries that charge's own, and a look-up given a reference finds the charge by it,
    as Stripe retrieves a PaymentIntent by its id: whatever the key, and nothing for a
    reference it never issued.
    """

    script: dict[int, list[str]] = field(default_factory=dict)
    default: str = CHARGED
    io_bound: bool = False
    db_path: Path | None = None  # when set, each call checks its attempt row was committed
    crash_after_booking: set[int] = field(default_factory=set)
    booked: dict[str, str] = field(default_factory=dict)  # key -> first answer
    references: dict[str, str] = field(default_factory=dict)  # a charge's reference -> its key
    calls: list[tuple[int, str]] = field(default_factory=list)  # (invoice id, key)
    charged_keys: list[str] = field(default_factory=list)
    after_call: Callable[[int], None] | None = None  # told the invoice id after every call
    can_lookup: bool = True  # False: like a server without list filters
    key_retention: timedelta | None = None
    requests_per_charge: int = 1
    lookups: list[str] = field(default_factory=list)  # keys looked up, in order
    # every look-up's invoice, key, `since` and reference, in order
    lookup_args: list[tuple[Invoice, str, datetime, str | None]] = field(default_factory=list)
    retry_after: float | None = None  # what a RATE_LIMITED step says in Retry-After
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def description(self) -> str:
        return "fake://"

    @property
    def waits_on_io(self) -> bool:
        return self.io_bound

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        with self._lock:
            self.calls.append((invoice.id, idempotency_key))
            if self.db_path is not None:
                _assert_attempt_committed(self.db_path, idempotency_key)
            steps = self.script.get(invoice.id, [self.default])
            step = steps.pop(0) if len(steps) > 1 else steps[0]
            if step == LOST_REQUEST:
                raise NetworkError("request lost")
            if step == RATE_LIMITED:
                raise RateLimited("too many requests", retry_after=self.retry_after)
            if step == KEY_REFUSED:
                raise CredentialsRejected("the key was revoked (401)", fix="use a live key")
            answer = self.booked.get(idempotency_key)
            if answer is None:
                answer = self._record(idempotency_key, self._book(step))
            if invoice.id in self.crash_after_booking:
                self.crash_after_booking.discard(invoice.id)
                raise Crash(f"crashed after booking invoice {invoice.id}")
            if self.after_call is not None:
                self.after_call(invoice.id)
            if step == LOST_RESPONSE:
                raise NetworkError("response lost")
        return _answer(answer, idempotency_key)

    def book(self, key: str, step: str) -> str | None:
        """Book `step` under `key` as a charge sent earlier would have; its reference, if
        its answer carries one."""
        with self._lock:
            self._record(key, step)
        return _answer(step, key).reference

    def _record(self, key: str, answer: str) -> str:
        self.booked[key] = answer
        if answer == CHARGED:
            self.charged_keys.append(key)
        reference = _answer(answer, key).reference
        if reference is not None:
            self.references[reference] = key
        return answer

    def lookup(
        self, invoice: Invoice, idempotency_key: str, *, since: datetime, reference: str | None
    ) -> Answer | None:
        with self._lock:
            self.lookups.append(idempotency_key)
            self.lookup_args.append((invoice, idempotency_key, since, reference))
            if not self.can_lookup:
                raise LookupUnavailable("this provider cannot list charges by key")
            # By the reference when there is one, else by the key: never the key instead.
            key = idempotency_key if reference is None else self.references.get(reference)
            answer = None if key is None else self.booked.get(key)
            if key is not None and answer == PROCESSING:
                answer = self.booked[key] = CHARGED
        return None if key is None or answer is None else _answer(answer, key)

    @staticmethod
    def _book(step: str) -> str:
        return CHARGED if step in (LOST_RESPONSE, LOST_REQUEST, RATE_LIMITED) else step

    def close(self) -> None:
        pass

    def charges_for(self, invoice_id: int) -> list[str]:
        return [key for key in self.charged_keys if f"-inv-{invoice_id}-" in key]


_ANSWERS = {
    CHARGED: CHARGED_ANSWER,
    DECLINED: Answer(AnswerKind.DECLINED, code="insufficient_funds", message="no funds"),
    HARD: Answer(AnswerKind.DECLINED, code="lost_card", message="the card was lost"),
    NEEDS_CUSTOMER: Answer(AnswerKind.REQUIRES_ACTION, reference="pi_"),  # + the key
    PROCESSING: Answer(AnswerKind.PROCESSING, reference="pi_"),
    NOT_FOUND: Answer(AnswerKind.CUSTOMER_NOT_FOUND, message="no such customer"),
    MISMATCH: Answer(AnswerKind.CURRENCY_MISMATCH, message="account in another currency"),
}


def _answer(answer: str, key: str) -> Answer:
    """The answer to a charge under `key`; one with a reference names its own charge."""
    found = _ANSWERS.get(
        answer, Answer(AnswerKind.REFUSED, message="refused for a reason nobody named")
    )
    return found if found.reference is None else found._replace(reference=f"pi_{key}")


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


def unknown(_holder: ProcessIdentity) -> None:
    """Liveness that cannot be known here (another host): the heartbeat decides."""
    return


def ids(rows: Iterable[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in rows]


def on(day: date) -> PassClock:
    """A pass's clock in the date form: `day` for every customer (company zone UTC)."""
    return PassClock(AsOf.on(day), UTC)


def days_on(day: date) -> claims.Days:
    """The claim's zone dates for a pass on `day`, with no customer zones."""
    return claims.days_sql(on(day).days([]))


@dataclass
class FakeChannel:
    """Delivers into a list; scripted failures per dedupe key, consumed in turn."""

    failures: dict[str, list[Exception]] = field(default_factory=dict)
    every: Exception | None = None  # raised for every message
    delivered: list[Message] = field(default_factory=list)
    tries: list[str] = field(default_factory=list)
    closed: bool = False
    after: Callable[[Message], None] | None = None
    description: str = "fake://"
    renders: Literal["email", "event"] = "email"
    deadline: float = 30.0
    aborted: int = 0

    def abort(self) -> None:
        self.aborted += 1

    def deliver(self, message: Message) -> None:
        self.tries.append(message.key)
        if self.every is not None:
            raise self.every
        queue = self.failures.get(message.key)
        if queue:
            raise queue.pop(0)
        self.delivered.append(message)
        if self.after is not None:
            self.after(message)

    def close(self) -> None:
        self.closed = True
