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

This module reports what Stripe said; `antaeus_cli.domain.outcomes` judges it. No
transport retries: the pass's retry policy owns retries.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from antaeus_cli import failpoints as fp
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.money import Currency
from antaeus_cli.domain.outcomes import Answer, AnswerKind
from antaeus_cli.errors import ProviderSpecError, ProviderUnreachable
from antaeus_cli.provider.port import (
    CredentialsRejected,
    LookupUnavailable,
    NetworkError,
    RateLimited,
)
from antaeus_cli.provider.spec import ProviderSpec, int_param, is_loopback
from antaeus_cli.provider.stripe_wire import TRANSPORTS, Declined, Refused, open_transport

PARAMETERS = ("api_key", "api_base", "timeout_s", "key_retention_h", "transport")
DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_RETENTION_H = 24  # Stripe keeps a key for at least 24 hours
METADATA_KEY = "antaeus_key"
METADATA_INVOICE = "antaeus_invoice_id"
LIST_PAGE = 100
MAX_LOOKUP_PAGES = 10
PROBE_TRIES = 3
POOL = 64  # connections kept open; more are opened, and closed after, past it
# Our clock and Stripe's may differ: list a whole day before the attempt began. A
# customer has a few PaymentIntents a month, so the pages stay few.
LOOKUP_SLACK = timedelta(days=1)
# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal):
# their amounts are whole units. None of ours is one; a test keeps it so.
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
_PI_KINDS = {
    "succeeded": AnswerKind.CHARGED,
    "processing": AnswerKind.PROCESSING,
    "requires_action": AnswerKind.REQUIRES_ACTION,
    # Not final: funds held, or a request still confirming it. Open: looked up again.
    "requires_capture": AnswerKind.PROCESSING,
    "requires_confirmation": AnswerKind.PROCESSING,
}


class StripeSettings:
    def __init__(self, spec: ProviderSpec) -> None:
        unknown = sorted(set(spec.params) - set(PARAMETERS))
        if unknown:
            raise ProviderSpecError(
                f"unknown parameter {unknown[0]!r} for stripe://; known: {', '.join(PARAMETERS)}"
            )
        self.transport = spec.params.get("transport", "http")
        if self.transport not in TRANSPORTS:
            raise ProviderSpecError(
                f"transport must be one of {', '.join(TRANSPORTS)}, got {self.transport[:20]!r}"
            )
        needs = "stripe" if self.transport == "sdk" else "urllib3"
        if importlib.util.find_spec(needs) is None:
            raise ProviderSpecError(
                f"stripe:// needs the {needs} package: pip install 'antaeus-cli[stripe]'"
            )
        key = spec.params.get("api_key", "")
        if not key.strip():
            raise ProviderSpecError(
                "stripe:// needs an API key: api_key=... in ANTAEUS_PROVIDER, or "
                "api_key_file=PATH (a file holding the key)"
            )
        self.api_key = key.strip()
        self.api_base = _api_base(spec.params.get("api_base", DEFAULT_API_BASE))
        self.timeout_s = int_param(spec.params, "timeout_s", 30, 1, 300)
        self.retention = timedelta(
            hours=int_param(spec.params, "key_retention_h", DEFAULT_RETENTION_H, 1, 24)
        )


def settings_from_spec(spec: ProviderSpec) -> StripeSettings:
    return StripeSettings(spec)


def _api_base(text: str) -> str:
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.path not in ("", "/"):
        raise ProviderSpecError(
            f"api_base must be a URL such as {DEFAULT_API_BASE}, got {text[:80]!r}"
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ProviderSpecError("api_base may use plain http only on a loopback address")
    return text.rstrip("/")


class StripeProvider:
    """Thread-safe, as its transport is."""

    def __init__(self, settings: StripeSettings, description: str) -> None:
        self._settings = settings
        self._description = description
        self._wire = open_transport(
            settings.transport,
            api_base=settings.api_base,
            api_key=settings.api_key,
            timeout_s=settings.timeout_s,
            pool=POOL,
        )

    @classmethod
    def from_spec(
        cls,
        spec: ProviderSpec,
        db_path: Path,  # noqa: ARG003 - Stripe keeps its own books
        failpoints: fp.Failpoints = fp.NONE,  # noqa: ARG003 - failpoints sit in the engine
    ) -> StripeProvider:
        provider = cls(settings_from_spec(spec), spec.redacted())
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
            retrying(self._wire.get, "/v1/payment_intents", {"limit": 1})
        except CredentialsRejected as refused:
            raise CredentialsRejected(
                f"{refused.refusal} before the pass claimed anything, so nothing was charged",
                fix=refused.fix,
            ) from None
        except (NetworkError, RateLimited, Refused, Declined) as exc:
            raise ProviderUnreachable(
                f"Stripe at {self._settings.api_base} did not answer a first request ({exc}); "
                "nothing was charged; try again later"
            ) from None

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        ref = invoice.customer_ref
        if ref is None:
            return Answer(
                AnswerKind.CUSTOMER_NOT_FOUND,
                message=f"customer {invoice.customer_id} has no provider_ref: set "
                "customer.provider_ref to its Stripe customer id (cus_...)",
            )
        customer = self._customer(ref)
        if isinstance(customer, Answer):
            return customer
        method = _default_payment_method(customer)
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
            if reference is not None:
                intent = self._wire.get(f"/v1/payment_intents/{quote(reference, safe='')}")
                return self._final(intent)
            if invoice.customer_ref is None:
                return None  # nothing is ever sent for a customer without a reference
            return self._find(invoice.customer_ref, idempotency_key, since)
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
                if (intent.get("metadata") or {}).get(METADATA_KEY) == key:
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
        charge twice. So it is canceled before the invoice waits for the customer. A
        cancel that fails raises NetworkError: the attempt stays open and the next
        look-up cancels it again, as does a cancel whose key was refused meanwhile."""
        answer = answer_of_intent(intent)
        if answer.kind is AnswerKind.REQUIRES_ACTION and answer.reference is not None:
            try:
                self._cancel(answer.reference)
            except CredentialsRejected as refused:
                # The PaymentIntent exists and may be live: the attempt must stay open, to
                # be canceled by a later look-up, not end as if nothing had happened.
                raise NetworkError(
                    f"could not cancel {answer.reference}: {refused.refusal}"
                ) from None
        return answer

    def _cancel(self, reference: str) -> None:
        path = f"/v1/payment_intents/{quote(reference, safe='')}"
        try:
            self._wire.post(f"{path}/cancel", {}, f"cancel-{reference}")
        except (Declined, Refused) as refused:
            # Already canceled, or no longer cancelable: find out what it became.
            if self._wire.get(path).get("status") != "canceled":
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
        pass


def stripe_currency(currency: Currency) -> str:
    code = currency.value.lower()
    if code in ZERO_DECIMAL and currency.minor_digits != 0:
        raise ValueError(f"{currency} has {currency.minor_digits} minor digits; Stripe has none")
    return code


def answer_of_intent(intent: dict[str, Any]) -> Answer:
    """What a PaymentIntent says, as an answer."""
    status = intent.get("status")
    reference = intent.get("id")
    kind = _PI_KINDS.get(str(status))
    if kind is not None:
        return Answer(kind, reference=reference)
    error = intent.get("last_payment_error") or {}
    if status == "requires_payment_method":
        if not error:  # created, not yet confirmed: a request may still be running
            return Answer(AnswerKind.PROCESSING, reference=reference)
        return Answer(
            AnswerKind.DECLINED,
            reference=reference,
            code=error.get("decline_code") or error.get("code"),
            advice_code=error.get("advice_code"),
            message=error.get("message"),
        )
    return Answer(
        AnswerKind.REFUSED,
        reference=reference,
        code=f"status_{status}",
        message=f"PaymentIntent {reference} is {status}, which an off-session charge never is",
    )


def _default_payment_method(customer: dict[str, Any]) -> str | None:
    settings = customer.get("invoice_settings") or {}
    for given in (settings.get("default_payment_method"), customer.get("default_source")):
        method = given.get("id") if isinstance(given, dict) else given
        if isinstance(method, str) and method:
            return method
    return None
