"""`antaeus reconcile`: read back into the ledger the charges the provider holds under
this database's keys that its ledger has forgotten (a database restored from a backup
taken before them). Each is recorded as an open attempt, as a claim records it before
sending; the next pass looks each up under its key before it charges anything, and
settles it with the provider's answer (the invoice paid, its receipt queued, the
ledger's collected figure kept). Nothing is sent to the provider but the look-ups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.purpose import RESTORE_SLACK_S, key_parts
from antaeus_cli.domain.words import counted
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.store import runs
from antaeus_cli.store.database import Store


@dataclass(frozen=True, slots=True)
class Reconciled:
    since: datetime | None
    looked_at: int  # charges under this database's keys the provider listed
    adopted: list[str] = field(default_factory=list)  # recorded as open attempts
    refused: list[str] = field(default_factory=list)  # forgotten, but not recordable
    run_id: int | None = None
    why: dict[str, str] = field(default_factory=dict)  # each refused key's reason


def reconcile(
    store: Store,
    provider: PaymentProvider,
    *,
    since: datetime | None,
    now: datetime,
    me: ProcessIdentity,
    is_alive: runs.Liveness,
) -> Reconciled:
    if since is None:
        with store.view() as view:
            newest = view.newest_attempt()
        since = None if newest is None else newest - timedelta(seconds=RESTORE_SLACK_S)
    found = provider.recent_keys(f"{store.namespace}-", since) or []
    with store.view() as view:
        unknown = set(view.unknown_keys([key for key, _ in found]))
    forgotten = []
    why: dict[str, str] = {}
    for key, created in found:
        parts = key_parts(store.namespace, key)
        if key not in unknown:
            continue
        if parts is None:
            why[key] = "its key names no invoice of this database"
        else:
            forgotten.append((*parts, key, created))
    if not forgotten:
        return Reconciled(since, len(found), [], list(why), why=why)
    started = runs.start_run(
        store, command="bill", clock=PassClock(AsOf.at(now)), provider=provider.description,
        me=me, now=now, is_alive=is_alive,
    )  # fmt: skip
    with store.work() as work:
        why.update(work.adopt(started.run_id, forgotten))
    adopted = [key for _, _, key, _ in forgotten if key not in why]
    runs.finish_run(
        store,
        started.run_id,
        status="completed",
        reason=f"reconcile: {counted(len(adopted), 'forgotten charge')} recorded as open "
        "attempts, to be looked up and settled by the next pass",
        counts={"unknown": len(adopted)},
        now=now,
    )
    return Reconciled(since, len(found), adopted, list(why), started.run_id, why)
