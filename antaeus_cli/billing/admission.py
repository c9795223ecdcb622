"""Before a pass claims anything from a database that is not a demo: its provider
account is the one the database is bound to, and the database is not one restored
from a backup that has forgotten charges made under its keys."""

from __future__ import annotations

from datetime import timedelta

from antaeus_cli.domain.purpose import (
    RESTORE_SLACK_S,
    Purpose,
    binding_refusal,
    restore_refusal,
)
from antaeus_cli.errors import ProviderSpecError, RestoredDatabase
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.store.database import Store


def admit(store: Store, provider: PaymentProvider, *, restored_ok: bool = False) -> None:
    """Raise when the pass may not charge through `provider` from `store`
    (`restored_ok`: for `antaeus reconcile`, which reads the forgotten charges back)."""
    if store.purpose is Purpose.DEMO:
        return
    account = provider.account()
    if account is None:  # the simulator: one world, no accounts
        return
    bound = store.bound_account()
    if bound is None:
        bound = store.bind_account(account.stored())
    refused = binding_refusal(bound, account)
    if refused is not None:
        raise ProviderSpecError(refused)
    if not restored_ok:
        _refuse_if_restored(store, provider)


def _refuse_if_restored(store: Store, provider: PaymentProvider) -> None:
    """The provider's charges under this database's keys since its newest attempt
    (less a slack for clocks) are all in its ledger: one or a few list requests."""
    with store.view() as view:
        newest = view.newest_attempt()
    since = None if newest is None else newest - timedelta(seconds=RESTORE_SLACK_S)
    found = provider.recent_keys(f"{store.namespace}-", since)
    if not found:
        return
    with store.view() as view:
        refused = restore_refusal(view.unknown_keys([key for key, _ in found]))
    if refused is not None:
        raise RestoredDatabase(
            f"{refused}: run 'antaeus --db {store.path} reconcile', which records them in the "
            "ledger; the next pass then settles them by their keys"
        )
