"""A pass refused before it could begin (a setting that cannot be used, such as a
dunning schedule, a company zone or a provider spec; no provider named on a production
database, credentials the provider refused, the provider down, another provider
account) is still a run: it is recorded with its reason, and the operator's summary of it is
queued, so that `report`, `check` and the operator's mail all say that billing did not
run, and why. A silent cron line that exits 2 every hour reaches nobody."""

from __future__ import annotations

import contextlib
from datetime import datetime

from antaeus_cli.billing.results import Command, PassCounts, RunStatus, run_summary
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.errors import LockHeld, StorageError
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.store import runs
from antaeus_cli.store.database import Store


def record_refused_start(
    store: Store,
    *,
    command: Command,
    clock: PassClock,
    provider: str,
    reason: str,
    now: datetime,
    me: ProcessIdentity,
    is_alive: runs.Liveness,
) -> None:
    """Best effort: the refusal itself is what the caller reports; a pass that holds the
    lock records its own run, and a database that cannot be written says so itself."""
    with contextlib.suppress(LockHeld, StorageError):
        started = runs.start_run(
            store, command=command.value, clock=clock, provider=provider, me=me, now=now,
            is_alive=is_alive,
        )  # fmt: skip
        counts = PassCounts()
        runs.finish_run(
            store,
            started.run_id,
            status=RunStatus.FAILED.value,
            reason=f"refused before it began: {reason}",
            counts=counts.as_columns(),
            now=now,
            summary=run_summary(command, clock, RunStatus.FAILED, reason, counts),
        )
