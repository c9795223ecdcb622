"""One exchange with an HTTP provider: every request of one charge or one look-up,
under one deadline for the whole of it, and under the pass's stop.

- **The deadline** covers every request of the exchange and every byte of their
  answers together. A bound per read (a socket timeout) lets a server that answers a
  byte at a time, or each request just inside its own bound, hold an exchange for ever.
  So each request is given what is left of the deadline, and a watchdog cuts the
  connection of an exchange whose deadline has passed, whatever it is waiting for.
- **The stop.** Once the pass's stop event is set, no request is sent (`Stopped`, not
  in flight), and a request already in flight gets `waits.STOP_GRACE_S` to be
  answered; then the watchdog cuts it (`Stopped`, in flight). So a pass ends within
  seconds of a signal, however slow the provider.

What a cut or an unsent request means for the charge is the adapter's to say: a
charge whose key's request never left moved nothing; one cut in flight may have.

Connections are urllib3's, subclassed only to tell the exchange open on their thread
which connection its request is using. A cut shuts that connection's socket down,
which ends a blocked read at once; the connection is never used again (urllib3 drops
a connection whose peer is gone). The watchdog is one daemon thread per transport,
awake only while an exchange is open.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from antaeus_cli.domain import waits
from antaeus_cli.provider.port import NetworkError

TICK_S = 0.05  # how often the watchdog looks, while an exchange is open
DEADLINE = "deadline"
STOP = "stop"


class Stopped(Exception):
    """The pass is stopping: the request was not sent, or (`in_flight`) it was cut
    while in flight, so it may have reached the provider."""

    def __init__(self, *, in_flight: bool) -> None:
        super().__init__(
            "cut while in flight: the pass is stopping"
            if in_flight
            else "not sent: the pass is stopping"
        )
        self.in_flight = in_flight


class Exchange:
    """One open exchange: when it must end, the connection its request is using, and
    why it was cut, once it is."""

    __slots__ = ("connection", "cut_for", "deadline")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connection: Any = None
        self.cut_for: str | None = None


class Exchanges:
    """The exchanges open on one transport, and the watchdog that ends them. Thread-safe:
    each thread has at most one exchange open at a time."""

    def __init__(self, *, seconds: float, stop: threading.Event | None) -> None:
        self._seconds = seconds
        self._stop = stop
        self._local = threading.local()
        self._lock = threading.Condition()
        self._open: set[Exchange] = set()
        self._watchdog: threading.Thread | None = None
        self._stop_seen: float | None = None
        self._closed = False

    @property
    def seconds(self) -> float:
        return self._seconds

    def _current(self) -> Exchange | None:
        current: Exchange | None = getattr(self._local, "exchange", None)
        return current

    @contextlib.contextmanager
    def exchange(self) -> Iterator[Exchange]:
        """Open an exchange on this thread for every request sent within; inside one
        already open, the open one (and its deadline) goes on."""
        current = self._current()
        if current is not None:
            yield current
            return
        opened = Exchange(time.monotonic() + self._seconds)
        with self._lock:
            self._open.add(opened)
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="exchange-watchdog", daemon=True
                )
                self._watchdog.start()
            self._lock.notify()
        self._local.exchange = opened
        try:
            yield opened
        finally:
            self._local.exchange = None
            with self._lock:
                self._open.discard(opened)

    @contextlib.contextmanager
    def request(self) -> Iterator[float]:
        """Around one request: refuse to send it once the pass is stopping, or once the
        exchange's deadline has passed; else yield the seconds left, for the transport's
        own timeouts."""
        with self.exchange() as current:
            if self._stop is not None and self._stop.is_set():
                raise Stopped(in_flight=False)
            left = current.deadline - time.monotonic()
            if left <= 0:
                raise self._late()
            try:
                yield left
            finally:
                with self._lock:
                    current.connection = None

    def failure(self, what: str) -> Exception:
        """The error for a request of this thread's exchange that failed in transport
        (`what` says how): a cut's own, if the watchdog cut it."""
        current = self._current()
        cut = current.cut_for if current is not None else None
        if cut == STOP:
            return Stopped(in_flight=True)
        if cut == DEADLINE:
            return self._late()
        return NetworkError(what)

    def _late(self) -> NetworkError:
        return NetworkError(
            f"no answer within the exchange's deadline of {self._seconds:g} s "
            "(timeout_s, for all the requests of one charge or look-up together)"
        )

    def using(self, connection: Any) -> None:
        """Called by a connection as this thread's request starts to use it."""
        current = self._current()
        if current is None:
            return
        with self._lock:
            current.connection = connection
            connection.antaeus_exchange = current

    def close(self) -> None:
        """End the watchdog; no exchange may be open."""
        with self._lock:
            self._closed = True
            self._lock.notify()

    def _watch(self) -> None:
        while True:
            with self._lock:
                while not self._open and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                now = time.monotonic()
                if self._stop is not None and self._stop.is_set() and self._stop_seen is None:
                    self._stop_seen = now
                stopped = self._stop_seen is not None and now - self._stop_seen >= (
                    waits.STOP_GRACE_S
                )
                for current in self._open:
                    if now >= current.deadline:
                        _cut(current, DEADLINE)
                    elif stopped:
                        _cut(current, STOP)
            time.sleep(TICK_S)

    def pool_classes(self) -> dict[str, Any]:
        """urllib3's two pool classes, with connections that tell this transport which
        connection each request uses (for `PoolManager.pool_classes_by_scheme`)."""
        from urllib3.connection import (  # noqa: PLC0415 - an optional extra
            HTTPConnection,
            HTTPSConnection,
        )
        from urllib3.connectionpool import (  # noqa: PLC0415
            HTTPConnectionPool,
            HTTPSConnectionPool,
        )

        exchanges = self

        class Connection(HTTPConnection):
            def connect(self) -> None:
                exchanges.using(self)
                super().connect()

            def request(self, *args: Any, **kwargs: Any) -> None:
                exchanges.using(self)
                super().request(*args, **kwargs)

        class SecureConnection(HTTPSConnection):
            def connect(self) -> None:
                exchanges.using(self)
                super().connect()

            def request(self, *args: Any, **kwargs: Any) -> None:
                exchanges.using(self)
                super().request(*args, **kwargs)

        class Pool(HTTPConnectionPool):
            ConnectionCls = Connection

        class SecurePool(HTTPSConnectionPool):
            ConnectionCls = SecureConnection

        return {"http": Pool, "https": SecurePool}


def _cut(current: Exchange, why: str) -> None:
    """Shut the socket of the exchange's request down: a blocked read ends at once. A
    connection another exchange has taken up since is left alone."""
    if current.cut_for is None:
        current.cut_for = why
    connection = current.connection
    if connection is None or getattr(connection, "antaeus_exchange", None) is not current:
        return
    sock = getattr(connection, "sock", None)
    if sock is not None:
        # The socket's own shutdown, under TLS too: it ends a read blocked in another
        # thread without touching the TLS state that thread is using.
        with contextlib.suppress(OSError, TypeError, ValueError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
