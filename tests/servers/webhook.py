"""A webhook receiver on loopback for the tests, written as an integrator would write
one: it checks the signature itself (HMAC-SHA256 over "<t>.<body>", Stripe's scheme),
refuses a stale or forged one with 400, and drops a repeated event id."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 300


@dataclass
class Receiver:
    secret: bytes
    events: list[dict[str, Any]] = field(default_factory=list)  # accepted, first time
    repeats: int = 0
    refused: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer with, in turn
    answer_size: int = 0  # bytes of body in every answer (a chatty receiver)
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def judge(self, header: str, body: bytes) -> int:
        with self.lock:
            self.posts += 1
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            stamp = int(fields["t"])
        except (KeyError, ValueError):
            self.refused.append("no timestamp")
            return 400
        expected = hmac.new(self.secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("v1", "")):
            self.refused.append("bad signature")
            return 400
        if abs(time.time() - stamp) > TOLERANCE_S:
            self.refused.append("stale")
            return 400
        with self.lock:
            if self.answers:
                return self.answers.pop(0)
            event = json.loads(body)
            if any(seen["id"] == event["id"] for seen in self.events):
                self.repeats += 1
            else:
                self.events.append(event)
        return 200


@contextlib.contextmanager
def webhook_receiver(secret: bytes) -> Iterator[tuple[int, Receiver]]:
    receiver = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = receiver.judge(self.headers.get("Antaeus-Signature", ""), body)
            self.send_response(status)
            self.send_header("Content-Length", str(receiver.answer_size))
            self.end_headers()
            self.wfile.write(b"x" * receiver.answer_size)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1]), receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
