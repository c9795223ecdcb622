"""The webhook channel: each notice POSTed as a JSON event, signed as Stripe signs
its own webhooks, over one kept-alive connection.

`Antaeus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
shared secret. The receiver recomputes it, refuses an old `t` (replays), and drops
a repeat by the event's `id`, which is the notice's dedupe key on every delivery.

| answer                                          | taken as  | whose   |
|-------------------------------------------------|-----------|---------|
| 2xx                                             | delivered |         |
| 408, 429, 5xx, no answer, a dropped connection   | Transient | channel |
| 409, 413, 422 (this event: a conflict, its size, | Permanent | notice  |
| its content)                                    |           |         |
| any other status (400, 401, 403, 404, 410, 3xx:  | Permanent | channel |
| not followed)                                   |           |         |

A status the receiver gives every event (a rotated secret's 400 or 401, a wrong
path's 404) is the channel's, not the events' (`channels.port`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from antaeus_cli.channels.port import Message, Permanent, Scope, Transient

SIGNATURE_HEADER = "Antaeus-Signature"
EVENT_ID_HEADER = "Antaeus-Event-Id"
_RETRIED = frozenset({408, 429})
_THIS_EVENT = frozenset({409, 413, 422})
MAX_ANSWER = 64 * 1024  # of a receiver's answer, read; the rest closes the connection


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    host: str
    port: int
    path: str
    secret: bytes
    tls: bool = True
    timeout: float = 30.0


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, *, now: float, tolerance: float) -> bool:
    """What a receiver does: the signature matches, and it is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split(",v1=", 1)[1]
    fresh = abs(now - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))


class WebhookChannel:
    renders: Literal["email", "event"] = "event"

    def __init__(
        self,
        settings: WebhookSettings,
        description: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.description = description
        self._clock = clock
        self.deadline = settings.timeout
        self._conn: http.client.HTTPConnection | None = None
        self._cut = False

    def abort(self) -> None:
        self._cut = True
        conn = self._conn
        sock = None if conn is None else conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def deliver(self, message: Message) -> None:
        self._cut = False
        try:
            self._post(message)
        finally:
            if self._cut:  # its connection was shut down under it: never used again
                self._drop()

    def _post(self, message: Message) -> None:
        s = self.settings
        # allow_nan=False: NaN is no JSON a strict receiver parses (ValueError fails the row)
        event = json.dumps(message.event, separators=(",", ":"), allow_nan=False)
        body = event.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "antaeus-notify",
            EVENT_ID_HEADER: message.key,
            SIGNATURE_HEADER: sign(s.secret, int(self._clock()), body),
        }
        conn = self._connection()
        try:
            conn.request("POST", s.path, body=body, headers=headers)
            response = conn.getresponse()
            cut_early = self._cut  # http.client takes a cut for the headers' end: no answer
            if not cut_early:
                response.read(MAX_ANSWER)  # cut here, the status and headers stand
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise Transient(f"webhook {s.host}:{s.port}: {type(exc).__name__}: {exc}") from None
        if cut_early:
            raise Transient(f"webhook {s.host}:{s.port}: cut before the answer was whole")
        if response.will_close or not response.isclosed():
            self._drop()  # an answer longer than we read: the connection is not reusable
        status = response.status
        if 200 <= status < 300:
            return
        reason = f"webhook answered HTTP {status} {' '.join(response.reason.split())[:100]}"
        if status in _RETRIED or status >= 500:
            raise Transient(reason)
        raise Permanent(reason, scope=Scope.NOTICE if status in _THIS_EVENT else Scope.CHANNEL)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            s = self.settings
            if s.tls:
                context = ssl.create_default_context()
                self._conn = http.client.HTTPSConnection(
                    s.host, s.port, timeout=s.timeout, context=context
                )
            else:
                self._conn = http.client.HTTPConnection(s.host, s.port, timeout=s.timeout)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._drop()
