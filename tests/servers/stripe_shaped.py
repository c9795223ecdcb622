"""A loopback server shaped like Stripe's PaymentIntents API, for the paths localstripe
does not cover: idempotency, list filters, 409s, 429s, 5xx, lost requests and
responses, and keys that expire.

It follows Stripe's documented idempotency rules
(https://docs.stripe.com/api/idempotent_requests):
- the status and body of the first request under a key are saved once the endpoint
  begins executing, whatever they are, 500s included, and returned for every later
  request under the key (with `Idempotent-Replayed: true`);
- a request that fails validation, is rate limited (429), or meets another request
  under the same key still executing (409) saves nothing;
- a key reused with other parameters is refused (400, `idempotency_error`);
- keys are forgotten after the retention period (Stripe: at least 24 hours); a
  request under a forgotten key is a new request.

The API key expires too, when a test says so: after a number of charges (a key
revoked in the middle of a pass), every request under it is answered 401, as Stripe
answers a revoked key.

`python -m tests.servers.stripe_shaped [--latency-ms N] [--limit-rps R]
[--retention-h H] [--retry-after S]` binds 127.0.0.1 on a free port and prints it.
Test-only endpoints under /_test/ set customers, faults, the clock and the API key's
expiry, and read what was charged. Faults are consumed per invoice (metadata
`antaeus_invoice_id`), one per request that creates one of its PaymentIntents, or
drawn at random with a seed:
`lost_request` (the connection drops before anything happens), `lost_response`
(the charge happens, then the connection drops), `status_500` (saved under the key,
nothing charged), `conflict_409`, `rate_limit_429` (with the `Retry-After` text the
plan gives, if any, sent as it is). Updates and cancels have plans of their own, per
invoice, of the two lost kinds only (never drawn at random).

A PaymentIntent may be updated (its metadata is merged; like Stripe, the update
clears `last_payment_error`), and canceled, with or without a `cancellation_reason`.

A slow server, per request line (`/_test/slow`, keyed by a prefix of "METHOD /path"):
`delay` holds an answer back that many seconds after the request was handled (a
charge is made at once, its answer is late), and `trickle` sends an answer's body one
byte at a time, that many seconds apart, so that no single read waits long. Every
request's arrival is logged (`/_test/requests`: its wall-clock time, method, path and
idempotency key), for tests that ask what reached the server after a signal.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

# Stripe's test payment methods (https://docs.stripe.com/testing), and what they do.
DECLINING = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedLostCard": "lost_card",
    "pm_card_chargeDeclinedStolenCard": "stolen_card",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}
NEEDS_ACTION = "pm_card_authenticationRequired"
PROCESSING = "pm_sepa_debit_processing"  # succeeds SETTLES_S after it was made
SETTLES_S = 600
MISSING = "resource_missing"
CANCELABLE = frozenset(
    {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"}
)
FAULTS = ("lost_request", "lost_response", "status_500", "conflict_409", "rate_limit_429")
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})


@dataclass
class Saved:
    fingerprint: str
    created: float
    status: int = 0
    body: dict[str, Any] | None = None  # None while the first request still executes


@dataclass
class State:
    latency_s: float
    limit_rps: float | None
    retention_s: float
    retry_after: float | None
    offset_s: float = 0.0
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # intent ids, oldest first
    keys: dict[str, Saved] = field(default_factory=dict)
    planned: dict[str, list[str]] = field(default_factory=dict)  # invoice id -> faults
    planned_update: dict[str, list[str]] = field(default_factory=dict)  # the same, for updates
    planned_cancel: dict[str, list[str]] = field(default_factory=dict)  # and for cancels
    random_rate: float = 0.0
    random_kinds: tuple[str, ...] = ()
    rng: random.Random = field(default_factory=random.Random)
    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)
    first_admitted: float = float("inf")
    last_admitted: float = float("-inf")
    fault_retry_after: str | None = None  # the Retry-After of a planned 429, verbatim
    key_expires_after: int | None = None  # charges after which the API key is refused
    delays: dict[str, float] = field(default_factory=dict)  # "METHOD /prefix" -> seconds
    trickles: dict[str, float] = field(default_factory=dict)  # the same, per body byte
    arrivals: list[dict[str, Any]] = field(default_factory=list)  # every API request

    def now(self) -> float:
        return time.time() + self.offset_s

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def admitted(self, at: float) -> None:
        """A request passed the rate limit: the span of these is the achieved rate's."""
        self.count("admitted")
        self.first_admitted = min(self.first_admitted, at)
        self.last_admitted = max(self.last_admitted, at)


def error(status: int, kind: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message, **extra}}, status=status)


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding: metadata[antaeus_key]=x becomes {"metadata": {...}}."""
    data: dict[str, Any] = {}
    for name, value in pairs:
        parts = re.findall(r"[^\[\]]+", name)
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return data


class Api:
    def __init__(self, state: State) -> None:
        self.s = state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/payment_intents", self.create_intent),
            web.get("/v1/payment_intents", self.list_intents),
            web.get("/v1/payment_intents/{id}", self.retrieve_intent),
            web.post("/v1/payment_intents/{id}", self.update_intent),
            web.post("/v1/payment_intents/{id}/cancel", self.cancel_intent),
            web.get("/v1/customers/{id}", self.retrieve_customer),
            web.get("/v1/account", self.retrieve_account),
            web.post("/_test/customers", self.put_customers),
            web.post("/_test/faults", self.put_faults),
            web.post("/_test/clock", self.move_clock),
            web.post("/_test/api_key", self.expire_key),
            web.get("/_test/intents", self.all_intents),
            web.get("/_test/stats", self.stats),
            web.post("/_test/slow", self.set_slow),
            web.get("/_test/requests", self.requests),
        ]

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Authentication, latency and the rate limit, as Stripe applies them first."""
        if request.path.startswith("/_test/"):
            return await handler(request)  # type: ignore[no-any-return]
        s = self.s
        s.count("requests")
        s.arrivals.append(
            {
                "at": time.time(),
                "method": request.method,
                "path": request.path,
                "key": request.headers.get("Idempotency-Key"),
            }
        )
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expired = s.key_expires_after is not None and s.counts.get("charged", 0) >= (
            s.key_expires_after
        )
        if expired or not key.startswith("sk_"):
            s.count("unauthorized")
            # As Stripe words it: the key masked, but for its prefix and last four.
            masked = f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}"
            return error(401, "invalid_request_error", f"Invalid API Key provided: {masked}")
        if s.latency_s:
            await asyncio.sleep(s.latency_s)
        if not self._take_token():
            s.count("rate_limited")
            headers = {} if s.retry_after is None else {"Retry-After": f"{s.retry_after:g}"}
            response = error(429, "invalid_request_error", "Too many requests", code="rate_limit")
            response.headers.update(headers)
            return response
        s.admitted(time.monotonic())
        response: web.StreamResponse = await handler(request)
        return await self._slowly(request, response)

    async def _slowly(
        self, request: web.Request, response: web.StreamResponse
    ) -> web.StreamResponse:
        """The answer, as late and as slow as `/_test/slow` asks for this request."""
        line = f"{request.method} {request.path}"
        delay = _first_match(self.s.delays, line)
        if delay:
            await asyncio.sleep(delay)
        trickle = _first_match(self.s.trickles, line)
        if not trickle or not isinstance(response, web.Response) or response.body is None:
            return response
        body = bytes(response.body)  # type: ignore[arg-type]
        slow = web.StreamResponse(status=response.status, headers=response.headers)
        slow.content_length = len(body)
        try:
            await slow.prepare(request)
            for byte in body:
                await slow.write(bytes([byte]))
                await asyncio.sleep(trickle)
            await slow.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away: nothing more to send
        return slow

    def _take_token(self) -> bool:
        s = self.s
        if s.limit_rps is None:
            return True
        now = time.monotonic()
        burst = max(1.0, s.limit_rps / 10)
        s.tokens = min(burst, s.tokens + (now - s.refilled) * s.limit_rps)
        s.refilled = now
        if s.tokens >= 1.0:
            s.tokens -= 1.0
            return True
        return False

    def _fault(self, invoice: str | None) -> str | None:
        s = self.s
        planned = s.planned.get(invoice or "")
        if planned:
            return planned.pop(0)
        if s.random_rate and s.rng.random() < s.random_rate:
            return s.rng.choice(s.random_kinds)
        return None

    async def create_intent(  # noqa: PLR0911 - one return per documented rule
        self, request: web.Request
    ) -> web.StreamResponse:
        s = self.s
        params = unflatten(parse_qsl(await request.text(), keep_blank_values=True))
        invoice = (params.get("metadata") or {}).get("antaeus_invoice_id")
        fault = self._fault(invoice)
        if fault == "lost_request":
            s.count("lost_request")
            return self._drop(request)
        if fault == "rate_limit_429":
            s.count("rate_limited")
            limited = error(429, "invalid_request_error", "Too many requests", code="rate_limit")
            if s.fault_retry_after is not None:
                limited.headers["Retry-After"] = s.fault_retry_after
            return limited
        invalid = _invalid(params, s.customers)
        if invalid is not None:
            return invalid  # fails validation: nothing saved
        key = request.headers.get("Idempotency-Key")
        saved = self._saved(key, params)
        if isinstance(saved, web.Response):
            return saved
        if saved is not None and saved.body is not None:
            s.count("replayed")
            return web.json_response(
                saved.body, status=saved.status, headers={"Idempotent-Replayed": "true"}
            )
        if fault == "conflict_409":
            s.count("conflict")
            return error(409, "idempotency_error", "another request with this key is running")
        if key is not None:
            s.keys[key] = Saved(_fingerprint(params), s.now())
        status, body = (
            (500, {"error": {"type": "api_error", "message": "something went wrong"}})
            if fault == "status_500"
            else self._charge(params)
        )
        if key is not None:
            s.keys[key].status, s.keys[key].body = status, body
        if fault == "lost_response":
            s.count("lost_response")
            return self._drop(request)
        return web.json_response(body, status=status)

    def _saved(self, key: str | None, params: dict[str, Any]) -> Saved | web.Response | None:
        s = self.s
        if key is None:
            return None
        saved = s.keys.get(key)
        if saved is None or s.now() - saved.created >= s.retention_s:
            s.keys.pop(key, None)
            return None
        if saved.fingerprint != _fingerprint(params):
            return error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters "
                "they were first used with.",
            )
        if saved.body is None:
            return error(409, "idempotency_error", "another request with this key is running")
        return saved

    def _charge(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        s = self.s
        intent = {
            "id": "pi_" + secrets.token_hex(8),
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": params["customer"],
            "payment_method": params["payment_method"],
            "metadata": params.get("metadata") or {},
            "created": int(s.now()),
            "status": "succeeded",
            "last_payment_error": None,
            "canceled_at": None,
            "cancellation_reason": None,
        }
        method = params["payment_method"]
        s.intents[intent["id"]] = intent
        s.order.append(intent["id"])
        if method in DECLINING:
            intent["status"] = "requires_payment_method"
            failure = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": DECLINING[method],
                "message": "Your card was declined.",
            }
            intent["last_payment_error"] = failure
            return 402, {"error": {**failure, "payment_intent": dict(intent)}}
        if method == NEEDS_ACTION:
            intent["status"] = "requires_action"
        elif method == PROCESSING:
            intent["status"] = "processing"
        s.count("charged" if intent["status"] == "succeeded" else intent["status"])
        return 200, dict(intent)

    async def list_intents(self, request: web.Request) -> web.Response:
        s = self.s
        query = unflatten(list(request.query.items()))
        if self._fault(None) == "lost_request":
            return self._drop(request)  # type: ignore[return-value]
        customer = query.get("customer")
        gte = int((query.get("created") or {}).get("gte", 0))
        limit = min(100, int(query.get("limit", 10)))
        newest_first = [s.intents[i] for i in reversed(s.order)]
        found = [
            i
            for i in newest_first
            if (customer is None or i["customer"] == customer) and i["created"] >= gte
        ]
        after = query.get("starting_after")
        if after is not None:
            ids = [i["id"] for i in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        page = found[:limit]
        return web.json_response(
            {"object": "list", "data": page, "has_more": len(found) > limit, "url": request.path}
        )

    async def retrieve_intent(self, request: web.Request) -> web.Response:
        intent = self.s.intents.get(request.match_info["id"])
        if intent is None:
            return error(404, "invalid_request_error", "No such payment_intent", code=MISSING)
        if intent["status"] == "processing" and self.s.now() >= intent["created"] + SETTLES_S:
            intent["status"] = "succeeded"  # an asynchronous method settled in the meantime
            self.s.count("charged")
        return web.json_response(intent)

    async def update_intent(self, request: web.Request) -> web.StreamResponse:
        intent = self.s.intents.get(request.match_info["id"])
        if intent is None:
            return error(404, "invalid_request_error", "No such PaymentIntent", code=MISSING)
        params = unflatten(parse_qsl(await request.text(), keep_blank_values=True))
        fault = _planned(self.s.planned_update, intent)
        if fault == "lost_request":
            return self._drop(request)
        intent["metadata"] = {**intent["metadata"], **(params.get("metadata") or {})}
        intent["last_payment_error"] = None  # Stripe clears it on any update
        self.s.count("updated")
        if fault == "lost_response":
            return self._drop(request)
        return web.json_response(intent)

    async def cancel_intent(self, request: web.Request) -> web.StreamResponse:
        intent = self.s.intents.get(request.match_info["id"])
        if intent is None:
            return error(404, "invalid_request_error", "No such PaymentIntent", code=MISSING)
        params = unflatten(parse_qsl(await request.text(), keep_blank_values=True))
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in CANCELLATION_REASONS:
            return error(400, "invalid_request_error", "Invalid cancellation_reason")
        fault = _planned(self.s.planned_cancel, intent)
        if fault == "lost_request":
            return self._drop(request)
        if intent["status"] not in CANCELABLE:
            return error(
                400, "invalid_request_error", f"cannot cancel a {intent['status']} PaymentIntent"
            )
        intent["status"] = "canceled"
        intent["canceled_at"] = int(self.s.now())
        intent["cancellation_reason"] = reason
        self.s.count("canceled")
        if fault == "lost_response":
            return self._drop(request)
        return web.json_response(intent)

    async def retrieve_customer(self, request: web.Request) -> web.Response:
        customer = self.s.customers.get(request.match_info["id"])
        if customer is None:
            return error(404, "invalid_request_error", "No such customer", code=MISSING)
        return web.json_response(customer)

    async def retrieve_account(self, request: web.Request) -> web.Response:
        """The account a key belongs to: `sk_test_NAME` and `sk_live_NAME` are the two
        modes of account `acct_NAME`; a NAME of `noaccount` gets a 404, as from a
        Stripe-compatible server without the endpoint, and `noroute` a 404 page that is not
        JSON, as from one that knows no such route at all (localstripe)."""
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        name = key.removeprefix("sk_test_").removeprefix("sk_live_")
        if name == "noaccount":
            return error(
                404, "invalid_request_error", "Unrecognized request URL (GET: /v1/account)"
            )
        if name == "noroute":
            return web.Response(status=404, text="404: Not Found", content_type="text/plain")
        return web.json_response({"id": f"acct_{name}", "object": "account"})

    async def put_customers(self, request: web.Request) -> web.Response:
        for cid, method in (await request.json()).items():
            self.s.customers[cid] = {
                "id": cid,
                "object": "customer",
                "invoice_settings": {"default_payment_method": method},
                "default_source": None,
            }
        return web.json_response({"ok": True})

    async def put_faults(self, request: web.Request) -> web.Response:
        plan = await request.json()
        s = self.s
        for name, planned in (
            ("planned", s.planned),
            ("update", s.planned_update),
            ("cancel", s.planned_cancel),
        ):
            for invoice, faults in (plan.get(name) or {}).items():
                planned.setdefault(str(invoice), []).extend(faults)
        if "retry_after" in plan:
            s.fault_retry_after = plan["retry_after"]
        if "random_rate" in plan:
            s.random_rate = float(plan["random_rate"])
            s.random_kinds = tuple(plan.get("random_kinds") or FAULTS)
            s.rng = random.Random(plan.get("seed", 0))
        return web.json_response({"ok": True})

    async def move_clock(self, request: web.Request) -> web.Response:
        self.s.offset_s += float((await request.json())["advance_s"])
        return web.json_response({"now": self.s.now()})

    async def expire_key(self, request: web.Request) -> web.Response:
        """`{"after_charges": N}`: the API key is refused once N charges succeeded."""
        self.s.key_expires_after = int((await request.json())["after_charges"])
        return web.json_response({"ok": True})

    async def set_slow(self, request: web.Request) -> web.Response:
        """`{"delay": {"GET /v1/customers": 5}, "trickle": {"POST /v1/payment_intents":
        0.5}}`: replaces what was slow before (`{}`: nothing is)."""
        plan = await request.json()
        self.s.delays = {str(k): float(v) for k, v in (plan.get("delay") or {}).items()}
        self.s.trickles = {str(k): float(v) for k, v in (plan.get("trickle") or {}).items()}
        return web.json_response({"ok": True})

    async def requests(self, _request: web.Request) -> web.Response:
        return web.json_response(self.s.arrivals)

    async def all_intents(self, _request: web.Request) -> web.Response:
        return web.json_response([self.s.intents[i] for i in self.s.order])

    async def stats(self, _request: web.Request) -> web.Response:
        s = self.s
        span = s.last_admitted - s.first_admitted if s.counts.get("admitted") else 0.0
        return web.json_response({**s.counts, "admitted_span_s": span})

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer, as a lost packet would look."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        return web.Response(status=499)


def _first_match(slow: dict[str, float], line: str) -> float:
    """The seconds of the first "METHOD /prefix" that `line` begins with, else 0."""
    return next((seconds for prefix, seconds in slow.items() if line.startswith(prefix)), 0.0)


def _planned(plan: dict[str, list[str]], intent: dict[str, Any]) -> str | None:
    """The next fault planned for a request on this PaymentIntent's invoice, if any."""
    faults = plan.get(str(intent["metadata"].get("antaeus_invoice_id")))
    return faults.pop(0) if faults else None


def _invalid(params: dict[str, Any], customers: dict[str, Any]) -> web.Response | None:
    try:
        amount = int(params.get("amount", ""))
    except ValueError:
        amount = 0
    if amount <= 0 or not re.fullmatch(r"[a-z]{3}", str(params.get("currency", ""))):
        return error(400, "invalid_request_error", "Invalid amount", code="parameter_invalid")
    if params.get("customer") not in customers:
        return error(404, "invalid_request_error", "No such customer", code=MISSING)
    if not params.get("payment_method") or params.get("confirm") != "true":
        return error(400, "invalid_request_error", "No payment_method", code="parameter_missing")
    return None


def _fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--limit-rps", type=float, default=None)
    parser.add_argument("--retention-h", type=float, default=24.0)
    parser.add_argument("--retry-after", type=float, default=None)
    args = parser.parse_args(argv)
    state = State(args.latency_ms / 1000, args.limit_rps, args.retention_h * 3600, args.retry_after)
    api = Api(state)
    app = web.Application(middlewares=[api.gate])
    app.add_routes(api.routes())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    web.run_app(app, sock=sock, access_log=None, print=None, backlog=512)


if __name__ == "__main__":
    main()
