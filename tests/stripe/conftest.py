"""localstripe, started by the suite on loopback for the Stripe tests, and helpers to
set customers up through the Stripe API as an integrator would."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@pytest.fixture
def pass_bound() -> float:
    """A pass against a loopback server waits on real sockets and real rate limits: it
    is bounded by the suite's timeout, not by the in-process bound."""
    return 600.0


@pytest.fixture(scope="session")
def localstripe() -> Iterator[Server]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with serving(
        "tests.servers.localstripe_main", ready_path="/v1/customers", headers=headers
    ) as base:
        yield Server(base)


@dataclass(frozen=True)
class Shaped:
    """The Stripe-shaped test server, and its test-only controls."""

    base: str

    def spec(self, **params: str) -> str:
        """The spec of this server; a request waits 5 s for its answer unless
        `timeout_s=` says otherwise."""
        params = {"timeout_s": "5", **params}
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"stripe://?api_base={self.base}&api_key={API_KEY}{extra}"

    def _post(self, path: str, body: object) -> object:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def customers(self, methods: dict[str, str | None]) -> None:
        self._post("/_test/customers", methods)

    def faults(
        self,
        planned: dict[int, list[str]] | None = None,
        *,
        cancel: dict[int, list[str]] | None = None,
        **random: object,
    ) -> None:
        """Faults per invoice for its creates (`planned`) and its cancels, or at random;
        `retry_after="..."` is the header a planned 429 carries, as it is given."""
        self._post("/_test/faults", {"planned": planned or {}, "cancel": cancel or {}, **random})

    def expire_key(self, after_charges: int) -> None:
        """The API key is refused (401) once this many charges have succeeded."""
        self._post("/_test/api_key", {"after_charges": after_charges})

    def slow(
        self, *, delay: dict[str, float] | None = None, trickle: dict[str, float] | None = None
    ) -> None:
        """Answers to requests whose "METHOD /path" begins with a key come that many
        seconds late (`delay`), or their bodies a byte every that many seconds
        (`trickle`). Replaces what was slow before."""
        self._post("/_test/slow", {"delay": delay or {}, "trickle": trickle or {}})

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Every API request that reached the server, in order of arrival (each with
        its wall-clock `at`), or those of one method and path."""
        return [
            r
            for r in self._get("/_test/requests")
            if (method is None or r["method"] == method) and (path is None or r["path"] == path)
        ]

    def advance(self, hours: float) -> None:
        self._post("/_test/clock", {"advance_s": hours * 3600})

    def intents(self) -> list[dict[str, Any]]:
        return list(self._get("/_test/intents"))

    def stats(self) -> dict[str, float]:
        return dict(self._get("/_test/stats"))

    def succeeded_per_invoice(self) -> Counter[int]:
        return Counter(
            int(i["metadata"]["antaeus_invoice_id"])
            for i in self.intents()
            if i["status"] == "succeeded"
        )


def seed(db: Path, server: Shaped, count: int) -> None:
    """A database seeded by the CLI with invoices 1..count of EUR 5.01.., each due on
    2026-12-01 and billed to its own customer cus_N, who has a card on the server."""
    from tests.process.helpers import antaeus

    server.customers({f"cus_{n}": "pm_card_visa" for n in range(1, count + 1)})
    fixture = {
        "customers": [
            {"id": n, "currency": "EUR", "provider_ref": f"cus_{n}"} for n in range(1, count + 1)
        ],
        "invoices": [
            {
                "id": n,
                "customer_id": n,
                "amount": 500 + n,
                "currency": "EUR",
                "due_date": "2026-12-01",
            }
            for n in range(1, count + 1)
        ],
    }
    path = db.with_name("fixture.json")
    path.write_text(json.dumps(fixture))
    assert antaeus(db, "seed", "--from", str(path)).returncode == 0


@contextlib.contextmanager
def shaped_server(*args: str) -> Iterator[Shaped]:
    with serving(
        "tests.servers.stripe_shaped",
        *args,
        ready_path="/_test/stats",
        headers={},
    ) as base:
        yield Shaped(base)


@pytest.fixture
def shaped() -> Iterator[Shaped]:
    with shaped_server() as server:
        yield server
