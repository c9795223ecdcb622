"""Servers that never finish answering, on loopback, for the tests of delivery deadlines:
each byte comes in time for any read timeout, and the answer never ends. aiosmtpd and
http.server cannot misbehave this way, so these are raw sockets, with bounded loops."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

INTERVAL_S = 0.1  # between two trickled pieces: far inside any read timeout
LIFETIME_S = 60.0  # no connection is served longer than this, whatever the test does


def _smtp(conn: socket.socket, done: threading.Event) -> None:
    """A greeting, then `250-` continuation lines to EHLO, one at a time, for ever."""
    conn.sendall(b"220 trickle.invalid ESMTP\r\n")
    conn.recv(1024)  # EHLO
    while not done.wait(INTERVAL_S):
        conn.sendall(b"250-still thinking\r\n")


def _greeting(conn: socket.socket, done: threading.Event) -> None:
    """A greeting of `220-` continuation lines, one at a time, for ever: smtplib reads
    it inside connect(), before any command."""
    while not done.wait(INTERVAL_S):
        conn.sendall(b"220-still waking up\r\n")


def _http_headers(conn: socket.socket, done: threading.Event) -> None:
    """Reads a request, then answers with a status line and a header at a time, for
    ever: the answer never says whether the event was taken."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not done.wait(INTERVAL_S):
        conn.sendall(b"X-Still-Thinking: 1\r\n")


def _http_body(conn: socket.socket, done: threading.Event) -> None:
    """Reads a request, then answers 200 with a body of a byte at a time, for ever."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while not done.wait(INTERVAL_S):
        conn.sendall(b"x")


@contextlib.contextmanager
def _serve(handler: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    done = threading.Event()
    workers: list[threading.Thread] = []

    def serve_one(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            handler(conn, done)

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=serve_one, args=(conn,), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    stopper = threading.Timer(LIFETIME_S, done.set)
    stopper.daemon = True
    stopper.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        done.set()
        stopper.cancel()
        acceptor.join(timeout=5)
        for worker in workers:
            worker.join(timeout=5)
        listener.close()


def trickling_smtp() -> contextlib.AbstractContextManager[int]:
    return _serve(_smtp)


def trickling_greeting() -> contextlib.AbstractContextManager[int]:
    return _serve(_greeting)


def trickling_http() -> contextlib.AbstractContextManager[int]:
    """Never finishes its headers."""
    return _serve(_http_headers)


def trickling_http_body() -> contextlib.AbstractContextManager[int]:
    """Says 200, then never finishes its body."""
    return _serve(_http_body)
