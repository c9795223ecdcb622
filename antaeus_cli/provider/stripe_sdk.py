"""`transport=sdk`: Stripe through the official `stripe` package
(`pip install 'antaeus-cli[stripe]'`), its own retries off. It reads answers by the
same rules as the default transport (`stripe_wire`), and sends every request inside
an exchange (`provider.exchange`) the same way: its `requests` session sends through
urllib3 connections the exchange's watchdog can cut.
"""

from __future__ import annotations

import contextlib
from typing import Any

from antaeus_cli.provider.exchange import Exchange, Exchanges
from antaeus_cli.provider.port import NetworkError
from antaeus_cli.provider.stripe_wire import error_of, retry_after


class SdkTransport:
    """The official package. Thread-safe: its one `requests` session sends through
    urllib3's pools, which hand each request a connection of its own (the session
    keeps no cookies or other state of ours between requests)."""

    def __init__(self, *, api_base: str, api_key: str, exchanges: Exchanges, pool: int) -> None:
        import stripe  # noqa: PLC0415 - an optional extra, imported only for transport=sdk

        self._stripe = stripe
        self._key = api_key
        self._exchanges = exchanges
        self._session = _session(exchanges, pool)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            max_network_retries=0,
            # Its timeout bounds each read; the exchange's watchdog bounds them together.
            http_client=stripe.RequestsClient(timeout=exchanges.seconds, session=self._session),
        )

    def exchange(self) -> contextlib.AbstractContextManager[Exchange]:
        return self._exchanges.exchange()

    def close(self) -> None:
        self._exchanges.close()
        self._session.close()

    def get(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("get", path, query or {})

    def post(self, path: str, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._call("post", path, {**params, "idempotency_key": idempotency_key})

    def _call(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        stripe = self._stripe
        try:
            with self._exchanges.request():
                try:
                    response = self._client.raw_request(method, path, **params)
                except stripe.StripeError as exc:
                    if isinstance(exc, stripe.APIConnectionError) or exc.http_status is None:
                        raise self._exchanges.failure(
                            f"{type(exc).__name__}: {exc.user_message or exc}"
                        ) from None
                    raise
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            body = exc.json_body if isinstance(exc.json_body, dict) else {}
            headers = exc.headers or {}
            wait = retry_after(headers.get("Retry-After"), headers.get("Date"))
            raise error_of(status, body, wait, key=self._key) from None
        data: Any = response.data
        if not isinstance(data, dict):
            raise NetworkError("an answer that is not a JSON object")
        return data


def _session(exchanges: Exchanges, pool: int) -> Any:
    """A `requests` session whose connections tell the exchanges which request they
    carry, so that the watchdog can cut them."""
    import requests  # noqa: PLC0415 - the stripe package's own dependency
    import urllib3  # noqa: PLC0415

    classes = exchanges.pool_classes()

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = classes

        def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            if type(manager) is urllib3.ProxyManager:  # a SOCKS proxy keeps its own pools
                manager.pool_classes_by_scheme = classes
            return manager

    session = requests.Session()
    adapter = Adapter(pool_maxsize=max(1, pool))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
