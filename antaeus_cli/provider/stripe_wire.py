"""How `stripe://` talks to Stripe: two transports behind one small port.

- `http` (the default): Stripe's wire protocol (form-encoded requests, JSON answers,
  HTTP status codes) over a `urllib3` connection pool.
- `sdk`: the official `stripe` package (`pip install 'antaeus-cli[stripe]'`), with
  its own retries off (`stripe_sdk`).

Both read answers the same way and raise the same errors, by the rules of Stripe's
API reference (https://docs.stripe.com/api/errors): 402 is a card error; 429 is a
rate limit that processed nothing; 401 and 403 are the credentials; 400 and 404 are
the request's own fault, except an `idempotency_error` (a key reused with other
parameters), which proves an earlier request under the key was processed and so is
open, like a 409 (a request under the same key still running), 5xx, timeouts
and lost connections may or may not have happened.

Both send every request inside an exchange (`provider.exchange`): one deadline for
all the requests of a charge or a look-up together, and the pass's stop, which sends
nothing new and cuts what is still in flight after a moment's grace.

Why two: the package costs about 3 ms of CPU a charge here (2.9 ms measured in a
profile of 1,500 charges against a loopback server; `urllib3` alone, 0.7 ms), which
holds one process to about 340 charges/s however many are in flight. docs/performance.md,
"Stripe", has the figures.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import re
import threading
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from antaeus_cli.domain import waits
from antaeus_cli.domain.outcomes import Answer, AnswerKind
from antaeus_cli.provider.exchange import Exchange, Exchanges
from antaeus_cli.provider.port import (
    CredentialsRejected,
    KeyConflict,
    NetworkError,
    RateLimited,
)

TRANSPORTS = ("http", "sdk")
# A key as Stripe quotes it in an error ("Invalid API Key provided: sk_test_****1234"):
# masked, but with its last characters, which are ours to keep out of logs.
_QUOTED_KEY = re.compile(r"\b[a-z]{2,4}_(?:test|live)_[A-Za-z0-9_*]*|\*{3,}[A-Za-z0-9_]*")


class Declined(Exception):
    """A definitive answer that came as an HTTP error: a 402, or a reused key."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.message)
        self.answer = answer


class NotJson(NetworkError):
    """An answer that is no Stripe answer (a proxy's page, another server): taken for
    no answer at all, as the request may still have reached Stripe behind it."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status} with an answer that is not JSON")
        self.status = status


class Refused(Exception):
    """A 400 or 404: the request itself was wrong."""

    def __init__(self, status: int | None, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Transport(Protocol):
    def exchange(self) -> contextlib.AbstractContextManager[Exchange]:
        """Every request sent within is one exchange's: one deadline, one stop."""
        ...

    def get(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def post(self, path: str, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


def open_transport(
    name: str,
    *,
    api_base: str,
    api_key: str,
    timeout_s: int,
    pool: int,
    stop: threading.Event | None = None,
) -> Transport:
    """`timeout_s` is the deadline of one exchange; `stop`, the pass's stop event."""
    exchanges = Exchanges(seconds=timeout_s, stop=stop)
    if name == "sdk":
        from antaeus_cli.provider.stripe_sdk import SdkTransport  # noqa: PLC0415 - optional

        return SdkTransport(api_base=api_base, api_key=api_key, exchanges=exchanges, pool=pool)
    return HttpTransport(api_base=api_base, api_key=api_key, exchanges=exchanges, pool=pool)


class HttpTransport:
    """Thread-safe: urllib3's pool hands each request a connection of its own."""

    def __init__(self, *, api_base: str, api_key: str, exchanges: Exchanges, pool: int) -> None:
        import urllib.request  # noqa: PLC0415 - only stripe:// needs these

        import urllib3  # noqa: PLC0415

        self._urllib3 = urllib3
        self._exchanges = exchanges
        self._base = api_base
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "antaeus"}
        self._key = api_key
        scheme = api_base.split(":", 1)[0]
        proxy = urllib.request.getproxies().get(scheme)
        if urllib.request.proxy_bypass(api_base.split("://", 1)[1].split("/", 1)[0]):
            proxy = None
        options: dict[str, Any] = {"maxsize": max(1, pool), "retries": False}
        self._http = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )
        self._http.pool_classes_by_scheme = exchanges.pool_classes()

    def exchange(self) -> contextlib.AbstractContextManager[Exchange]:
        return self._exchanges.exchange()

    def close(self) -> None:
        self._exchanges.close()
        self._http.clear()

    def get(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self._base + path + ("?" + urlencode(flatten(query)) if query else "")
        return self._send("GET", url, None, self._headers)

    def post(self, path: str, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        headers = {
            **self._headers,
            "Idempotency-Key": idempotency_key,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return self._send("POST", self._base + path, urlencode(flatten(params)), headers)

    def _send(
        self, method: str, url: str, body: str | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        with self._exchanges.request() as left:
            # What is left of the exchange's deadline bounds the connect and each read;
            # the exchange's watchdog bounds them all together.
            timeout = self._urllib3.Timeout(connect=left, read=left)
            try:
                response = self._http.request(
                    method, url, body=body, headers=headers, timeout=timeout
                )
            except self._urllib3.exceptions.HTTPError as exc:  # timeouts, resets, protocol
                raise self._exchanges.failure(f"{type(exc).__name__}: {exc}") from None
        try:
            data = json.loads(response.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise NotJson(response.status)
        if response.status == 200:
            return data
        said = response.headers
        raise error_of(
            response.status,
            data,
            retry_after(said.get("Retry-After"), said.get("Date")),
            key=self._key,
        )


def error_of(
    status: int, body: dict[str, Any], wait: float | None = None, *, key: str = ""
) -> Exception:
    """The port's error for a Stripe error answer; `wait` is a 429's Retry-After, in
    seconds (see `retry_after`). Whatever the server quotes of `key` is scrubbed from
    every message first: the key, its first eight and its last four characters."""
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    message = scrubbed(str(error.get("message") or f"HTTP {status}"), key)
    if status == 402:
        return Declined(declined(error))
    if status == 429:
        return RateLimited(message, wait)
    if status in (401, 403):
        return CredentialsRejected(
            f"Stripe refused the API key ({status}: {_QUOTED_KEY.sub('***', message)})",
            fix="check ANTAEUS_PROVIDER or api_key_file",
        )
    if status in (400, 404):
        if error.get("type") == "idempotency_error":
            # The key was used before, with other parameters: that request was processed.
            return KeyConflict(f"HTTP {status} idempotency_error: {message}")
        return Refused(status, error.get("code"), message)
    # 409: another request under the key is still running; 5xx: Stripe's side.
    return NetworkError(f"HTTP {status}: {message}")


def scrubbed(text: str, key: str) -> str:
    """`text` with the key and the pieces of it a server may quote replaced by ***."""
    for piece in (key, key[:8], key[-4:]) if key else ():
        if piece:
            text = text.replace(piece, "***")
    return text


def declined(error: dict[str, Any]) -> Answer:
    """A card error's answer: its decline code, advice and PaymentIntent."""
    intent: Any = error.get("payment_intent")
    return Answer(
        AnswerKind.DECLINED,
        reference=intent.get("id") if isinstance(intent, dict) else intent,
        code=error.get("decline_code") or error.get("code"),
        advice_code=error.get("advice_code"),
        message=str(error.get("message") or "declined"),
    )


def flatten(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: {"metadata": {"k": "v"}} is metadata[k]=v."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        key = f"{prefix}[{name}]" if prefix else str(name)
        if isinstance(value, dict):
            pairs += flatten(value, key)
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        elif value is not None:
            pairs.append((key, str(value)))
    return pairs


def retry_after(text: str | None, date: str | None = None) -> float | None:
    """A Retry-After header as seconds to wait, within the pass's bound on waits.

    Seconds or an HTTP date (RFC 9110), the date counted from the answer's own `Date`
    header when it has one (the server's clock, not ours), else from our clock. None
    when there is none, or it says nothing (not a number, not a date, NaN): the
    pass's own pace applies then. Whatever it says, the wait is clamped to 0 and
    `waits.MAX_WAIT_S`: a date in the past is 0, one in a thousand years the bound."""
    if text is None:
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _until(text, date)
    if math.isnan(seconds):
        return None
    return waits.bounded(seconds)


def _until(text: str, date: str | None) -> float | None:
    when = _http_date(text)
    if when is None:
        return None
    now = _http_date(date) if date is not None else None
    return waits.bounded((when - (now or datetime.now(UTC))).total_seconds())


def _http_date(text: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
