"""The simulated payment provider: another system, with its own books and a network
that fails in both directions.

A network fault either loses the request (no charge happens) or loses the
response after the charge was booked. The second kind is why idempotency keys
matter: only a replay of the same key tells the caller what really happened.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from antaeus_cli import failpoints as fp
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.errors import AntaeusError, ProviderSpecError
from antaeus_cli.provider.port import (
    CurrencyMismatch,
    CustomerNotFound,
    NetworkError,
    ProviderError,
)
from antaeus_cli.provider.sim_ledger import (
    MEMORY,
    Books,
    KeyReused,
    MemoryBooks,
    SimLedger,
    default_ledger_path,
)
from antaeus_cli.provider.spec import ProviderSpec

# api_key is accepted and never checked: the simulator does not authenticate, but
# deployments can rehearse passing a credential through ANTAEUS_PROVIDER or a file.
PARAMETERS = ("latency_ms", "network_error_rate", "seed", "ledger", "api_key")
MAX_LATENCY_MS = 60_000


@dataclass(frozen=True, slots=True)
class SimSettings:
    latency_ms: int = 0
    network_error_rate: float = 0.0  # a probability, never money: a float is fine
    seed: int | None = None
    ledger: Path | None = None  # None: next to the database; Path(":memory:"): in memory


def settings_from_spec(spec: ProviderSpec) -> SimSettings:
    unknown = sorted(set(spec.params) - set(PARAMETERS))
    if unknown:
        raise ProviderSpecError(
            f"unknown parameter {unknown[0]!r} for sim://; known: {', '.join(PARAMETERS)}"
        )
    params = spec.params
    latency = _int_param(params, "latency_ms", 0, MAX_LATENCY_MS)
    rate_text = params.get("network_error_rate", "0")
    try:
        rate = float(rate_text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ProviderSpecError(
            f"network_error_rate must be a number from 0 to 1, got {rate_text!r}"
        )
    seed = _int_param(params, "seed", 0, 2**63 - 1) if "seed" in params else None
    ledger_text = params.get("ledger")
    if ledger_text is not None and not ledger_text:
        raise ProviderSpecError("ledger= needs a path, or :memory:")
    return SimSettings(latency, rate, seed, Path(ledger_text) if ledger_text else None)


def _int_param(params: dict[str, str], name: str, low: int, high: int) -> int:
    text = params.get(name, str(low))
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ProviderSpecError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return value


def ledger_path(settings: SimSettings, db_path: Path) -> Path:
    return settings.ledger if settings.ledger is not None else default_ledger_path(db_path)


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
    ) -> None:
        self._ledger = ledger
        self._settings = settings
        self._description = description
        self._sleep = sleep
        self._failpoints = failpoints
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._fault_seed = str(settings.seed) if settings.seed is not None else secrets.token_hex(8)

    @classmethod
    def from_spec(
        cls, spec: ProviderSpec, db_path: Path, failpoints: fp.Failpoints = fp.NONE
    ) -> SimProvider:
        settings = settings_from_spec(spec)
        ledger: Books
        if settings.ledger is not None and str(settings.ledger) == MEMORY:
            ledger = MemoryBooks.copy_of(default_ledger_path(db_path))
        else:
            ledger = SimLedger.open(ledger_path(settings, db_path))
        return cls(ledger, settings, spec.redacted(), failpoints=failpoints)

    @property
    def description(self) -> str:
        return self._description

    @property
    def waits_on_io(self) -> bool:
        return self._settings.latency_ms > 0

    def charge(self, invoice: Invoice, idempotency_key: str) -> bool:
        settings = self._settings
        fault = self._fault(idempotency_key) if settings.network_error_rate else None
        if settings.latency_ms:
            self._sleep(settings.latency_ms / 1000)
        if fault == "request":
            raise NetworkError("connection reset before the request reached the provider")
        with self._lock:
            try:
                amount = invoice.amount
                outcome = self._ledger.charge(
                    idempotency_key, invoice.id, invoice.customer_id, amount.minor, amount.currency
                )
            except KeyReused as exc:
                raise ProviderError(str(exc)) from None
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
            return True
        return _answer(outcome, invoice)

    def _fault(self, key: str) -> str | None:
        """Which way this request fails, if it does: a pure function of the seed, the key
        and how many times this process has sent the key, so a seeded run repeats."""
        rate = self._settings.network_error_rate
        if rate <= 0.0:
            return None
        with self._lock:
            sent = self._calls.get(key, 0) + 1
            self._calls[key] = sent
        digest = hashlib.blake2b(f"{self._fault_seed}:{key}:{sent}".encode(), digest_size=8)
        draw = int.from_bytes(digest.digest(), "big") / 2**64
        if draw >= rate:
            return None
        return "request" if draw < rate / 2 else "response"

    def close(self) -> None:
        self._ledger.close()


def _answer(outcome: str, invoice: Invoice) -> bool:
    if outcome == "charged":
        return True
    if outcome == "declined":
        return False
    if outcome == "customer_not_found":
        raise CustomerNotFound(f"the provider has no account for customer {invoice.customer_id}")
    if outcome == "currency_mismatch":
        raise CurrencyMismatch(
            f"the provider's account for customer {invoice.customer_id} is not in "
            f"{invoice.amount.currency.value}"
        )
    raise ProviderError(f"unexpected outcome {outcome!r} in the provider's books")
