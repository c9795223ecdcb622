"""A deadline for a whole delivery, and a stop that cuts one in flight.

A socket timeout bounds each read, not a delivery: a server that trickles a `250-`
line every second, or a webhook receiver that trickles its answer, would hold
`notify` for ever. One thread, for the whole run, watches the delivery in progress:
at its deadline (the channel's, connection included), or `STOP_GRACE_S` after the run
was asked to stop (at once on a second signal), it cuts it with `channel.abort()`,
which shuts the connection down under the blocked read. The delivery then fails for
now, and the run goes on, or ends. Only a delivery that is armed is ever cut: `disarm`
returns once no cut of it can still come.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from antaeus_cli.domain.waits import STOP_GRACE_S

TICK_S = 0.05  # how often the watch looks; a cut comes at most this late


class Watchdog:
    def __init__(self, abort: Callable[[], None], stop: threading.Event, hurry: threading.Event):
        self._abort, self._stop, self._hurry = abort, stop, hurry
        self._lock = threading.Lock()
        self._until: float | None = None  # the armed delivery's deadline (monotonic)
        self._seconds = 0.0
        self._stopped_at: float | None = None
        self._closed = threading.Event()
        self.cut: str | None = None  # why the armed delivery was cut, if it was
        self._thread = threading.Thread(target=self._watch, name="notify-deadline", daemon=True)
        self._thread.start()

    @contextmanager
    def armed(self, seconds: float) -> Iterator[None]:
        """Watch the delivery the block makes: cut it past `seconds`, or on a stop."""
        with self._lock:
            self._until, self._seconds, self.cut = time.monotonic() + seconds, seconds, None
        try:
            yield
        finally:
            with self._lock:
                self._until = None

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._closed.wait(TICK_S):
            now = time.monotonic()
            if self._stop.is_set() and self._stopped_at is None:
                self._stopped_at = now
            with self._lock:
                if self._until is None:
                    continue
                if self.cut is None:
                    self.cut = self._why(now, self._until)
                if self.cut is not None:  # again each tick: a socket made since is cut too
                    self._abort()

    def _why(self, now: float, until: float) -> str | None:
        if self._hurry.is_set():
            return "cut: a second signal asked the run to stop at once"
        stopped = self._stopped_at
        if stopped is not None and now >= stopped + STOP_GRACE_S:
            return f"cut: the run was asked to stop, and it still went on {STOP_GRACE_S:g} s later"
        if now >= until:
            return f"cut: the delivery took over its deadline of {self._seconds:g} s in all"
        return None
