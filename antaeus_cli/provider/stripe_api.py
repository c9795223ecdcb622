"""`stripe://`: off-session charges on Stripe's PaymentIntents API
(`pip install 'antaeus-cli[stripe]'`; the transport is in `stripe_wire`).

A charge costs two requests, both counted by Stripe's rate limit: the customer is
read for its default payment method (`invoice_settings.default_payment_method`, else
`default_source`: Stripe does not fill it in for a PaymentIntent), then one
PaymentIntent is created and confirmed off-session under our idempotency key, with
the key and the invoice id in its metadata. The payment method is read afresh for
every charge, so a card the customer replaced is never charged.

A look-up lists the customer's PaymentIntents created since the attempt began and
matches our key in their metadata (or retrieves one by its `pi_...` reference).

A PaymentIntent that requires action (3-D Secure) is marked and canceled: see
`stripe_objects`.

A charge and a look-up are each one exchange (`provider.exchange`): `timeout_s` is
the deadline of all its requests together. Once the pass is stopping, no request is
sent: a charge stopped before its PaymentIntent was sent moved nothing (`NotSent`);
one whose PaymentIntent was cut in flight may have (`Interrupted`), and so may one
stopped before a PaymentIntent that requires action was canceled.

This module reports what Stripe said; `antaeus_cli.domain.outcomes` judges it. No
transport retries: the pass's retry policy owns retries.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from antaeus_cli import failpoints as fp
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import Answer, AnswerKind
from antaeus_cli.domain.purpose import ProviderAccount
from antaeus_cli.errors import ProviderSpecError, ProviderUnreachable
from antaeus_cli.provider.exchange import Stopped
from antaeus_cli.provider.port import (
    CredentialsRejected,
    Interrupted,
    LookupUnavailable,
    NetworkError,
    NotSent,
    RateLimited,
)
from antaeus_cli.provider.spec import ProviderSpec
from antaeus_cli.provider.stripe_objects import (
    CANCELED_FOR_ACTION,
    METADATA_CANCELED,
    METADATA_INVOICE,
    METADATA_KEY,
    answer_of_intent,
    default_payment_method,
    metadata_of,
    refused_unsent,
    stripe_currency,
)
from antaeus_cli.provider.stripe_settings import StripeSettings, settings_from_spec
from antaeus_cli.provider.stripe_wire import Declined, NotJson, Refused, open_transport

__all__ = ["StripeProvider", "settings_from_spec"]  # the registry reads both from here

_LIVE = ("sk_live_", "rk_live_")
_TEST = ("sk_test_", "rk_test_")
LIST_PAGE = 100
MAX_LOOKUP_PAGES = 10
PROBE_TRIES = 3
POOL = 64  # connections kept open; more are opened, and closed after, past it
# Our clock and Stripe's may differ: list a whole day before the attempt began. A
# customer has a few PaymentIntents a month, so the pages stay few.
LOOKUP_SLACK = timedelta(days=1)


class StripeProvider:
    """Thread-safe, as its transport is."""

    def __init__(
        self, settings: StripeSettings, description: str, stop: threading.Event | None = None
    ) -> None:
        self._settings = settings
        self._description = description
        self._wire = open_transport(
            settings.transport,
            api_base=settings.api_base,
            api_key=settings.api_key,
            timeout_s=settings.timeout_s,
            pool=POOL,
            stop=stop,
        )

    @classmethod
    def from_spec(
        cls,
        spec: ProviderSpec,
        db_path: Path,  # noqa: ARG003 - Stripe keeps its own books
        failpoints: fp.Failpoints = fp.NONE,  # noqa: ARG003 - failpoints sit in the engine
        stop: threading.Event | None = None,
    ) -> StripeProvider:
        provider = cls(settings_from_spec(spec), spec.redacted(), stop)
        provider.check_credentials()
        return provider

    @property
    def description(self) -> str:
        return self._description

    @property
    def waits_on_io(self) -> bool:
        return True

    @property
    def requests_per_charge(self) -> int:
        return 2  # the customer, for its payment method; the PaymentIntent

    @property
    def key_retention(self) -> timedelta | None:
        return self._settings.retention

    def check_credentials(self) -> None:
        """One cheap request before any invoice is claimed: a bad key is a usage error
        of the whole pass, not one operator row per invoice. Transient failures are
        tried again a few times, briefly."""
        self._probe("/v1/payment_intents", {"limit": 1})

    def account(self) -> ProviderAccount:
        """The account the key charges into (`GET /v1/account`), and its mode, which
        Stripe writes into the key itself (`sk_live_`, `rk_test_`, ...)."""
        try:
            found = self._probe("/v1/account", None, refusals=(Refused,))
        except Refused as exc:
            raise ProviderSpecError(
                f"Stripe at {self._settings.api_base} refused to name the account of the key "
                f"(GET /v1/account: {exc}); a production database is bound to its account "
                "before its first charge: use a secret key, or a restricted key that may "
                "read the account; nothing was charged"
            ) from None
        account = found.get("id")
        if not isinstance(account, str) or not account or " " in account:
            raise ProviderUnreachable(
                f"Stripe at {self._settings.api_base} did not name the account of the key "
                "(GET /v1/account); nothing was charged"
            )
        key = self._settings.api_key
        live = True if key.startswith(_LIVE) else False if key.startswith(_TEST) else None
        return ProviderAccount("stripe", account, live)

    def recent_keys(self, prefix: str, since: datetime | None) -> list[tuple[str, datetime]]:
        """Our keys on the newest PaymentIntents created at or after `since`, read
        from their metadata: at most MAX_LOOKUP_PAGES pages, newest first."""
        params: dict[str, Any] = {"limit": LIST_PAGE}
        if since is not None:
            params["created"] = {"gte": int(since.timestamp())}
        found: list[tuple[str, datetime]] = []
        for _ in range(MAX_LOOKUP_PAGES):
            page = self._probe("/v1/payment_intents", dict(params))
            data = page.get("data") or []
            for intent in data:
                key = metadata_of(intent).get(METADATA_KEY)
                created = intent.get("created")
                if isinstance(key, str) and key.startswith(prefix) and type(created) is int:
                    found.append((key, datetime.fromtimestamp(created, UTC)))
            if not page.get("has_more") or not data:
                break
            params["starting_after"] = data[-1]["id"]
        return found

    def _probe(
        self,
        path: str,
        query: dict[str, Any] | None,
        refusals: tuple[type[Exception], ...] = (),
    ) -> dict[str, Any]:
        from tenacity import (  # noqa: PLC0415 - kept off the start-up path
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential_jitter,
        )

        retrying = Retrying(
            retry=retry_if_exception_type((NetworkError, RateLimited)),
            stop=stop_after_attempt(PROBE_TRIES),
            wait=wait_exponential_jitter(multiplier=0.1, max=1.0, jitter=0.1),
            reraise=True,
        )
        try:
            return retrying(self._wire.get, path, query)
        except refusals:
            raise
        except CredentialsRejected as refused:
            raise CredentialsRejected(
                f"{refused.refusal} before the pass claimed anything, so nothing was charged",
                fix=refused.fix,
            ) from None
        except NotJson as exc:
            if exc.status not in (400, 404):
                raise ProviderUnreachable(self._no_answer(exc)) from None
            # a read refused outright (a server without the route or the filter): a
            # first request moves no money, and asking again will not help
            raise ProviderSpecError(self._refused(path, exc)) from None
        except (Refused, Declined) as exc:
            raise ProviderSpecError(self._refused(path, exc)) from None
        except (NetworkError, RateLimited) as exc:
            raise ProviderUnreachable(self._no_answer(exc)) from None

    def _refused(self, path: str, exc: Exception) -> str:
        return (
            f"Stripe at {self._settings.api_base} refused GET {path} ({exc}), a request "
            "every production pass makes before it claims anything: it is not Stripe's "
            "API, or not all of it; nothing was charged"
        )

    def _no_answer(self, exc: Exception) -> str:
        return (
            f"Stripe at {self._settings.api_base} did not answer a first request ({exc}); "
            "nothing was charged; try again later"
        )

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        ref = invoice.customer_ref
        if ref is None:
            return Answer(
                AnswerKind.CUSTOMER_NOT_FOUND,
                message=f"customer {invoice.customer_id} has no provider_ref: set "
                "customer.provider_ref to its Stripe customer id (cus_...)",
            )
        refused = refused_unsent(invoice.amount)
        if refused is not None:
            return refused
        with self._wire.exchange():
            return self._charge(invoice, ref, idempotency_key)

    def _charge(self, invoice: Invoice, ref: str, idempotency_key: str) -> Answer:
        try:
            customer = self._customer(ref)
        except Stopped:
            raise NotSent(idempotency_key) from None  # only the customer was read
        if isinstance(customer, Answer):
            return customer
        method = default_payment_method(customer)
        if method is None:
            return Answer(
                AnswerKind.REQUIRES_ACTION,
                code="no_default_payment_method",
                message=f"Stripe customer {ref} has no default payment method",
            )
        money = invoice.amount
        params: dict[str, Any] = {
            "amount": money.minor,
            "currency": stripe_currency(money.currency),
            "customer": ref,
            "payment_method": method,
            "confirm": True,
            "off_session": True,
            "metadata": {METADATA_INVOICE: str(invoice.id), METADATA_KEY: idempotency_key},
        }
        try:
            intent = self._wire.post("/v1/payment_intents", params, idempotency_key)
        except Declined as declined:
            return declined.answer
        except Refused as refused:
            return Answer(AnswerKind.REFUSED, code=refused.code, message=str(refused))
        except Stopped as stopped:
            if not stopped.in_flight:
                raise NotSent(idempotency_key) from None
            raise Interrupted(
                f"the pass stopped while the PaymentIntent under {idempotency_key} was in "
                "flight: Stripe may have made it"
            ) from None
        return self._final(intent)

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,
        reference: str | None,
    ) -> Answer | None:
        try:
            with self._wire.exchange():
                if reference is not None:
                    intent = self._wire.get(f"/v1/payment_intents/{quote(reference, safe='')}")
                    return self._final(intent)
                if invoice.customer_ref is None:
                    return None  # nothing is ever sent for a customer without a reference
                return self._find(invoice.customer_ref, idempotency_key, since)
        except Stopped:
            raise NotSent(idempotency_key) from None  # a look-up left unfinished moved nothing
        except Declined as declined:
            raise LookupUnavailable(f"the look-up was refused: {declined.answer.message}") from None
        except Refused as refused:
            raise LookupUnavailable(f"the look-up was refused: {refused}") from None

    def _find(self, customer: str, key: str, since: datetime) -> Answer | None:
        params: dict[str, Any] = {
            "customer": customer,
            "created": {"gte": int((since - LOOKUP_SLACK).timestamp())},
            "limit": LIST_PAGE,
        }
        for _ in range(MAX_LOOKUP_PAGES):
            page = self._wire.get("/v1/payment_intents", params)
            data = page.get("data") or []
            for intent in data:
                if metadata_of(intent).get(METADATA_KEY) == key:
                    return self._final(intent)
            if not page.get("has_more") or not data:
                return None
            params["starting_after"] = data[-1]["id"]
        raise LookupUnavailable(
            f"more than {MAX_LOOKUP_PAGES * LIST_PAGE} PaymentIntents for {customer} since "
            f"{since.isoformat()}: too many to search"
        )

    def _final(self, intent: dict[str, Any]) -> Answer:
        """The answer of a PaymentIntent, made final where it would not be.

        A PaymentIntent that requires action stays live: were the customer to
        authenticate it later, it would charge, and a retry under a new key would then
        charge twice. So it is marked and canceled before the invoice waits for the
        customer. A mark or cancel that fails raises NetworkError: the attempt stays
        open and the next look-up marks and cancels it again, as does a cancel whose key
        was refused meanwhile."""
        answer = answer_of_intent(intent)
        if intent.get("status") == "requires_action" and answer.reference is not None:
            try:
                self._cancel_for_action(answer.reference)
            except Stopped:
                # Not canceled yet, so it may still charge: the attempt stays open, and
                # the next look-up cancels it.
                raise Interrupted(
                    f"the pass stopped before {answer.reference}, which requires action, "
                    "was canceled"
                ) from None
            except CredentialsRejected as refused:
                # The PaymentIntent exists and may be live: the attempt must stay open, to
                # be canceled by a later look-up, not end as if nothing had happened.
                raise NetworkError(
                    f"could not cancel {answer.reference}: {refused.refusal}"
                ) from None
        return answer

    def _cancel_for_action(self, reference: str) -> None:
        path = f"/v1/payment_intents/{quote(reference, safe='')}"
        try:
            mark = {"metadata": {METADATA_CANCELED: CANCELED_FOR_ACTION}}
            self._wire.post(path, mark, f"mark-{reference}")
            self._wire.post(f"{path}/cancel", {}, f"cancel-{reference}")
        except (Declined, Refused) as refused:
            # Already canceled, or no longer cancelable: find out what it became.
            current = self._wire.get(path)
            if current.get("status") != "canceled":
                raise NetworkError(f"could not cancel {reference}: {refused}") from None

    def _customer(self, ref: str) -> dict[str, Any] | Answer:
        try:
            customer = self._wire.get(f"/v1/customers/{quote(ref, safe='')}")
        except Declined as declined:
            return declined.answer
        except Refused as refused:
            if refused.status == 404:
                return Answer(
                    AnswerKind.CUSTOMER_NOT_FOUND,
                    code=refused.code,
                    message=f"Stripe has no customer {ref}",
                )
            return Answer(AnswerKind.REFUSED, code=refused.code, message=str(refused))
        if customer.get("deleted"):
            return Answer(
                AnswerKind.CUSTOMER_NOT_FOUND, message=f"Stripe customer {ref} was deleted"
            )
        return customer

    def close(self) -> None:
        self._wire.close()
