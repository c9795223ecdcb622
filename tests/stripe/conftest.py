"""localstripe, started by the suite on loopback for the Stripe tests, and helpers to
set customers up through the Stripe API as an integrator would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import stripe

from tests.servers.process import serving

API_KEY = "sk_test_antaeus"
SUCCESS = "4242424242424242"
DECLINES = "4000000000000341"  # attaches, then declines every charge
NEEDS_3DS = "4000002500003155"  # requires authentication: off-session, requires_action


@dataclass(frozen=True)
class Server:
    base: str

    @property
    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            API_KEY, base_addresses={"api": self.base}, max_network_retries=0
        )

    def spec(self, **params: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"stripe://?api_base={self.base}&api_key={API_KEY}{extra}"

    def customer(self, card: str | None) -> str:
        """A Stripe customer with `card` as its default payment method (None: no card)."""
        client = self.client
        customer = client.v1.customers.create()
        if card is not None:
            method = client.v1.payment_methods.create(
                params={
                    "type": "card",
                    "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
                }
            )
            client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
            client.v1.customers.update(
                customer.id, params={"invoice_settings": {"default_payment_method": method.id}}
            )
        return str(customer.id)

    def intents(self) -> list[dict[str, object]]:
        """Every PaymentIntent the server holds."""
        found: list[dict[str, object]] = []
        params: dict[str, object] = {"limit": 100}
        while True:
            page = self.client.v1.payment_intents.list(params=params)  # type: ignore[arg-type]
            found += [intent.to_dict() for intent in page.data]
            if not page.has_more:
                return found
            params["starting_after"] = page.data[-1].id


@pytest.fixture(scope="session")
def localstripe() -> Iterator[Server]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with serving(
        "tests.servers.localstripe_main", ready_path="/v1/customers", headers=headers
    ) as base:
        yield Server(base)
