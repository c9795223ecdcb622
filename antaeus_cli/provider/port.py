"""The port every payment provider adapter implements, and the errors it may raise.

An adapter reports what the provider said as an `Answer` and never judges it:
`antaeus_cli.domain.outcomes` does, in one table. It raises only for the answers
that are not about the charge: the request may be lost (`NetworkError`; `Interrupted`
when the pass's stop cut it in flight), it was refused unprocessed (`RateLimited`),
it was never sent because the pass is stopping (`NotSent`), the provider cannot look
a charge up (`LookupUnavailable`), or the credentials are wrong for the whole pass
(`CredentialsRejected`).

An adapter is given the pass's stop event when it is opened (None: never stopped).
Once it is set, the adapter sends no new request of a charge or a look-up, and cuts
a request still in flight after `waits.STOP_GRACE_S`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.domain.purpose import ProviderAccount
from antaeus_cli.errors import InputError


class NetworkError(Exception):
    """The request or its response was lost (or a 5xx, a timeout, a 409 on the key):
    the charge may or may not have happened. Only a look-up can tell."""


class KeyConflict(NetworkError):
    """The provider already holds the key for a request with other parameters: an
    earlier request under it was processed, so money may have moved. Open, like any
    NetworkError: only a look-up settles it."""


class Interrupted(NetworkError):
    """The pass stopped while a request was in flight, and cut it: the charge may or may
    not have happened. Open, like any NetworkError: only a look-up settles it."""


class NotSent(Exception):
    """The pass began stopping before the request under the key was sent (while it
    waited for a rate slot, or between the requests of one exchange): nothing under the
    key reached the provider, so nothing moved."""


class RateLimited(Exception):
    """HTTP 429: the provider refused the request before processing it; nothing moved."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LookupUnavailable(Exception):
    """The provider cannot say whether a charge under a key exists (no list filter, or
    it refused the look-up). The attempt stays open rather than be re-sent blindly."""


class CredentialsRejected(InputError):
    """The provider refused our credentials: a usage error of the whole pass.

    `refusal` says what the provider said, `fix` what to do; the message joins them.
    The adapter cannot know what the pass had done before, so neither says it: the
    pass does (before anything was claimed, nothing was charged; in the middle of a
    pass, its summary says what was)."""

    def __init__(self, refusal: str, *, fix: str) -> None:
        super().__init__(f"{refusal}: {fix}")
        self.refusal = refusal
        self.fix = fix


class PaymentProvider(Protocol):
    """Charges one invoice under an idempotency key, and finds charges made under one.

    Replaying a key within `key_retention` must return the first answer and never
    move money twice; past it, the provider may have forgotten the key.
    """

    @property
    def description(self) -> str:
        """How the provider was configured, safe to log (secrets redacted)."""
        ...

    @property
    def waits_on_io(self) -> bool:
        """True when calls spend their time waiting, so running them concurrently helps."""
        ...

    @property
    def key_retention(self) -> timedelta | None:
        """How long the provider is sure to remember a key; None: for ever."""
        ...

    @property
    def requests_per_charge(self) -> int:
        """How many requests one charge sends, as the provider's rate limit counts them."""
        ...

    def account(self) -> ProviderAccount | None:
        """The account the credentials charge into, asked of the provider (None: the
        provider has no accounts to tell apart, as the simulator)."""
        ...

    def recent_keys(self, prefix: str, since: datetime | None) -> list[tuple[str, datetime]] | None:
        """The idempotency keys starting with `prefix` of the charges the provider holds
        that were created at or after `since` (None: the newest), each with when it was
        created, newest first, up to a bound; None when the provider cannot list them."""
        ...

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer: ...

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,
        reference: str | None,
    ) -> Answer | None:
        """What became of the charge under this key (made at or after `since`, or known
        by `reference`), or None when the provider has no such charge."""
        ...

    def close(self) -> None: ...


class ProviderWrapper:
    """A port around a port: everything passes through to `inner`. Wrappers that add
    something to a call (pacing, watching for refused credentials) override only it."""

    def __init__(self, inner: PaymentProvider) -> None:
        self._provider = inner

    @property
    def description(self) -> str:
        return self._provider.description

    @property
    def waits_on_io(self) -> bool:
        return self._provider.waits_on_io

    @property
    def key_retention(self) -> timedelta | None:
        return self._provider.key_retention

    @property
    def requests_per_charge(self) -> int:
        return self._provider.requests_per_charge

    def account(self) -> ProviderAccount | None:
        return self._provider.account()

    def recent_keys(self, prefix: str, since: datetime | None) -> list[tuple[str, datetime]] | None:
        return self._provider.recent_keys(prefix, since)

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        return self._provider.charge(invoice, idempotency_key)

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,
        reference: str | None,
    ) -> Answer | None:
        return self._provider.lookup(invoice, idempotency_key, since=since, reference=reference)

    def close(self) -> None:
        self._provider.close()
