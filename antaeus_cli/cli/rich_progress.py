"""The progress bar drawn on a terminal while a pass runs."""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from antaeus_cli.billing.results import Phase
from antaeus_cli.cli.text import safe
from antaeus_cli.domain.attempt import Settled
from antaeus_cli.domain.invoice import InvoiceRow, Rejection


class RichObserver:
    def __init__(self, stream: TextIO) -> None:
        self._console = Console(file=stream, highlight=False)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichObserver:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def phase(self, phase: Phase, total: int) -> None:
        if total == 0 and phase is not Phase.CHARGE:
            self._task = None
            return
        label = {
            Phase.RECONCILE: "replaying open attempts",
            Phase.CHARGE: "charging",
            Phase.SWEEP: "settling unknown outcomes",
        }[phase]
        self._task = self._progress.add_task(label, total=total)

    def _advance(self) -> None:
        if self._task is not None:
            self._progress.advance(self._task)

    def settled(self, settled: Settled) -> None:  # noqa: ARG002 - the summary lists outcomes
        self._advance()

    def rejected(self, row: InvoiceRow, rejection: Rejection) -> None:  # noqa: ARG002
        self._advance()

    def held(self, invoice_id: int, rejection: Rejection) -> None:
        pass  # counted as settled already; the summary lists it

    def note(self, message: str) -> None:
        self._progress.console.print(Text(safe(message), style="cyan"))
