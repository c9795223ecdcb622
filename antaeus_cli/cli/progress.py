"""Progress while a pass runs: a rich bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from antaeus_cli.billing.results import Observer, Phase, SilentObserver
from antaeus_cli.cli.text import safe
from antaeus_cli.domain.attempt import Settled
from antaeus_cli.domain.invoice import InvoiceRow, InvoiceStatus, Rejection
from antaeus_cli.domain.words import counted

if TYPE_CHECKING:
    from antaeus_cli.cli.passes import PassOptions

LOG_EVERY_SECONDS = 10.0


def interactive(stream: TextIO) -> bool:
    """A person is watching: a terminal, and colour was not switched off."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


@contextlib.contextmanager
def observer_for(options: PassOptions, stream: TextIO) -> Iterator[Observer]:
    if options.json_output:
        yield SilentObserver()
    elif interactive(stream):
        with _rich_observer(stream) as observer:
            yield observer
    else:
        yield LogObserver(stream, options.command.value)


class LogObserver:
    """Timestamped plain lines: what cron mails and log files keep. No ANSI codes."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._phase = Phase.RECONCILE
        self._total = 0
        self._done = 0
        self._last = time.monotonic()

    def _line(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._stream.write(f"{stamp} {self._label}: {message}\n")
        self._stream.flush()

    def phase(self, phase: Phase, total: int) -> None:
        self._phase, self._total, self._done = phase, total, 0
        if phase is Phase.CHARGE:
            what = f"{counted(total, 'invoice')} due"
        else:
            what = f"{counted(total, 'open attempt')} to replay"
        self._line(f"{phase.value}: {what}")

    def settled(self, settled: Settled) -> None:
        self._done += 1
        transition = settled.transition
        if transition is not None and transition.status is InvoiceStatus.NEEDS_OPERATOR:
            failure = transition.failure
            detail = f"{failure.code.value}: {failure.detail}" if failure else ""
            self._line(f"invoice {settled.attempt.invoice.id} needs an operator: {safe(detail)}")
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            self._line(f"{self._phase.value}: {self._done}/{self._total} settled")

    def rejected(self, row: InvoiceRow, rejection: Rejection) -> None:
        self._done += 1
        self._line(
            f"invoice {row.id} needs an operator: {rejection.code.value}: {safe(rejection.detail)}"
        )

    def held(self, invoice_id: int, rejection: Rejection) -> None:
        self._line(
            f"invoice {invoice_id} held for an operator: {rejection.code.value}: "
            f"{safe(rejection.detail)}"
        )

    def note(self, message: str) -> None:
        self._line(safe(message))


@contextlib.contextmanager
def _rich_observer(stream: TextIO) -> Iterator[Observer]:
    from antaeus_cli.cli.rich_progress import RichObserver

    with RichObserver(stream) as observer:
        yield observer
