"""The simulated payment provider: another system, with its own books and a network
that fails in both directions.

A network fault either loses the request (no charge happens) or loses the
response after the charge was booked. The second kind is why idempotency keys
matter: only a look-up, or a replay of the same key, tells the caller what really
happened. Like a real provider it may forget a key after `key_retention_h`, answer
429 (`rate_limit_rate`), and give each kind of decline: `hard_decline_rate`,
`needs_customer_rate` and `processing_rate` are the shares of first requests that
end so (drawn from the seed and the key, so a seeded run repeats).

A request takes `latency_ms` to reach the provider. Told the pass's stop, it is not
sent once the stop has come, and one on its way is cut after the grace a request in
flight gets (waits.STOP_GRACE_S), before it is booked.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from antaeus_cli import failpoints as fp
from antaeus_cli.domain import waits
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import CHARGED, Answer, AnswerKind
from antaeus_cli.domain.purpose import ProviderAccount
from antaeus_cli.errors import AntaeusError
from antaeus_cli.provider.port import (
    Interrupted,
    KeyConflict,
    NetworkError,
    NotSent,
    RateLimited,
)
from antaeus_cli.provider.sim_ledger import (
    MEMORY,
    Books,
    KeyReused,
    MemoryBooks,
    SimLedger,
    default_ledger_path,
)
from antaeus_cli.provider.sim_settings import SimSettings, ledger_path, settings_from_spec
from antaeus_cli.provider.spec import ProviderSpec

# The registry reads settings_from_spec from here; `seed` reads ledger_path.
__all__ = ["SimProvider", "SimSettings", "ledger_path", "settings_from_spec"]


class SimProvider:
    """Thread-safe: requests travel (sleep) concurrently, bookings are serialised."""

    def __init__(
        self,
        ledger: Books,
        settings: SimSettings,
        description: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        failpoints: fp.Failpoints = fp.NONE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stop: threading.Event | None = None,
    ) -> None:
        self._ledger = ledger
        self._settings = settings
        self._description = description
        self._sleep = sleep
        self._stop = stop
        self._failpoints = failpoints
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._fault_seed = str(settings.seed) if settings.seed is not None else secrets.token_hex(8)
        hours = settings.key_retention_h
        self._retention = None if hours is None else timedelta(hours=hours)
        self._twists = settings.twists  # bound once: charge() asks for every invoice
        if isinstance(ledger, SimLedger):
            ledger.clock, ledger.retention = clock, self._retention

    @classmethod
    def from_spec(
        cls,
        spec: ProviderSpec,
        db_path: Path,
        failpoints: fp.Failpoints = fp.NONE,
        stop: threading.Event | None = None,
    ) -> SimProvider:
        settings = settings_from_spec(spec)
        ledger: Books
        if settings.ledger is not None and str(settings.ledger) == MEMORY:
            ledger = MemoryBooks.copy_of(default_ledger_path(db_path))
        else:
            ledger = SimLedger.open(ledger_path(settings, db_path))
        return cls(ledger, settings, spec.redacted(), failpoints=failpoints, stop=stop)

    @property
    def description(self) -> str:
        return self._description

    @property
    def waits_on_io(self) -> bool:
        return self._settings.latency_ms > 0

    @property
    def requests_per_charge(self) -> int:
        return 1

    def account(self) -> ProviderAccount | None:
        return None  # one simulated world: no accounts to tell apart

    def recent_keys(self, prefix: str, since: datetime | None) -> list[tuple[str, datetime]] | None:  # noqa: ARG002
        return None  # demo databases only: a restored one moves no money

    @property
    def key_retention(self) -> timedelta | None:
        return self._retention

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        settings = self._settings
        if settings.latency_ms and not self._travel(idempotency_key):
            raise Interrupted("the pass stopped while the request was on its way: not booked")
        fault = self._fault(idempotency_key) if settings.network_error_rate else None
        if settings.rate_limit_rate and self._draw("429", idempotency_key, fresh=True) < (
            settings.rate_limit_rate
        ):
            raise RateLimited("too many requests (simulated 429)")
        if fault == "request":
            raise NetworkError("connection reset before the request reached the provider")
        twist = self._twist(idempotency_key) if self._twists else None
        with self._lock:
            try:
                amount = invoice.amount
                outcome = self._ledger.charge(
                    idempotency_key,
                    (invoice.id, invoice.customer_id, amount.minor, amount.currency),
                    twist,
                )
            except KeyReused as exc:
                raise KeyConflict(str(exc)) from None
            except sqlite3.Error as exc:
                # The provider's own database failed and rolled back: nothing was booked.
                raise NetworkError(f"the provider is unavailable ({exc})") from None
            except AntaeusError as exc:
                raise NetworkError(f"the provider is unavailable ({exc.message})") from None
        if self._failpoints:
            self._failpoints.hit(fp.IN_PROVIDER_CALL, invoice.id)
        if fault == "response":
            raise NetworkError("timed out waiting for the response; the request was processed")
        if outcome == "charged":  # the common answer, without a call
            return CHARGED
        return _answer(outcome, invoice)

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,  # noqa: ARG002 - the books find a key however old it is
        reference: str | None,  # noqa: ARG002 - the key is the simulator's reference
    ) -> Answer | None:
        settings = self._settings
        if settings.latency_ms and not self._travel(idempotency_key):
            raise NotSent(idempotency_key)  # a look-up left unfinished moved nothing
        if settings.network_error_rate and (
            self._draw("lookup", idempotency_key, fresh=True) < settings.network_error_rate
        ):
            raise NetworkError("the look-up timed out")
        with self._lock:
            try:
                outcome = self._ledger.lookup(idempotency_key)
            except sqlite3.Error as exc:
                raise NetworkError(f"the provider is unavailable ({exc})") from None
        if outcome is None:
            return None
        return CHARGED if outcome == "charged" else _answer(outcome, invoice)

    def _travel(self, key: str) -> bool:
        """A request's way to the provider, `latency_ms` long. With the pass's stop: not
        sent once it is set (NotSent), and False when it came while the request was on
        its way and the rest of the way is longer than the grace a request in flight
        gets (`waits.STOP_GRACE_S`): the request is cut there, after that grace."""
        latency = self._settings.latency_ms / 1000
        stop = self._stop
        if stop is None:
            self._sleep(latency)
            return True
        if stop.is_set():
            raise NotSent(key)
        started = time.monotonic()
        if not stop.wait(latency):
            return True
        left = latency - (time.monotonic() - started)
        self._sleep(min(left, waits.STOP_GRACE_S))
        return left <= waits.STOP_GRACE_S

    def _twist(self, key: str) -> str | None:
        """What this key's first request is drawn to end as, beyond the balance."""
        settings = self._settings
        draw = self._draw("twist", key, fresh=False)
        for twist, rate in (
            ("declined_hard", settings.hard_decline_rate),
            ("needs_customer", settings.needs_customer_rate),
            ("processing", settings.processing_rate),
        ):
            if draw < rate:
                return twist
            draw -= rate
        return None

    def _fault(self, key: str) -> str | None:
        """Which way this request fails, if it does: a pure function of the seed, the key
        and how many times this process has sent the key, so a seeded run repeats."""
        rate = self._settings.network_error_rate
        draw = self._draw("fault", key, fresh=True)
        if draw >= rate:
            return None
        return "request" if draw < rate / 2 else "response"

    def _draw(self, salt: str, key: str, *, fresh: bool) -> float:
        """A number in [0, 1) from the seed and the key; `fresh` draws anew on every
        request under the key, else once per key."""
        sent = 0
        if fresh:
            with self._lock:
                sent = self._calls.get(f"{salt}:{key}", 0) + 1
                self._calls[f"{salt}:{key}"] = sent
        digest = hashlib.blake2b(f"{self._fault_seed}:{salt}:{key}:{sent}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big") / 2**64

    def close(self) -> None:
        self._ledger.close()


_DECLINED = Answer(
    AnswerKind.DECLINED,
    code="insufficient_funds",
    message="the balance did not allow the charge",
)
_DECLINED_HARD = Answer(AnswerKind.DECLINED, code="lost_card", message="the card was lost")
_NEEDS_CUSTOMER = Answer(
    AnswerKind.REQUIRES_ACTION,
    code="authentication_required",
    message="the card needs its holder to authenticate the charge",
)
_PROCESSING = Answer(AnswerKind.PROCESSING)


def _answer(outcome: str, invoice: Invoice) -> Answer:
    fixed = {
        "charged": CHARGED,
        "declined": _DECLINED,
        "declined_hard": _DECLINED_HARD,
        "needs_customer": _NEEDS_CUSTOMER,
        "processing": _PROCESSING,
    }.get(outcome)
    if fixed is not None:
        return fixed
    if outcome == "customer_not_found":
        return Answer(
            AnswerKind.CUSTOMER_NOT_FOUND,
            message=f"the provider has no account for customer {invoice.customer_id}",
        )
    if outcome == "currency_mismatch":
        return Answer(
            AnswerKind.CURRENCY_MISMATCH,
            message=f"the provider's account for customer {invoice.customer_id} is not in "
            f"{invoice.amount.currency.value}",
        )
    return Answer(AnswerKind.REFUSED, message=f"unexpected outcome {outcome!r} in the books")
