"""The port every payment provider adapter implements, and the errors it may raise."""

from __future__ import annotations

from typing import Protocol

from antaeus_cli.domain.invoice import Invoice


class ProviderError(Exception):
    """The provider definitively refused the charge; no money moved."""


class CustomerNotFound(ProviderError):
    """The provider has no account for the invoice's customer."""


class CurrencyMismatch(ProviderError):
    """The provider's account for the customer is in another currency."""


class NetworkError(Exception):
    """The request or its response was lost: the charge may or may not have happened.

    Deliberately not a ProviderError: it is the one transient error, retried with
    the same idempotency key, and never taken as a final answer.
    """


class PaymentProvider(Protocol):
    """Charges one invoice under an idempotency key.

    Returns True when charged and False when the balance did not allow it.
    Replaying a key must return the first answer and never move money twice.
    """

    @property
    def description(self) -> str:
        """How the provider was configured, safe to log (secrets redacted)."""
        ...

    @property
    def waits_on_io(self) -> bool:
        """True when calls spend their time waiting, so running them concurrently helps."""
        ...

    def charge(self, invoice: Invoice, idempotency_key: str) -> bool: ...

    def close(self) -> None: ...
