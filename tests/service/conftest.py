"""Fixtures the service tests share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.channels.port import Channel
from antaeus_cli.notify.results import NotifyResult
from antaeus_cli.notify.service import deliver_pending
from antaeus_cli.notify.settings import DeliveryPolicy, NotifyRuntime, NotifySettings
from antaeus_cli.store.database import Store
from antaeus_cli.store.runs import Liveness
from tests.conftest import Sleeps
from tests.fakes import FixedClock, unknown


@pytest.fixture
def notify(db_path: Path, clock: FixedClock, sleeps: Sleeps) -> Callable[..., NotifyResult]:
    def run(
        channel: Channel,
        *,
        stop: threading.Event | None = None,
        hurry: threading.Event | None = None,
        owner: str = "me",
        is_alive: Liveness = unknown,
        **kw: Any,
    ) -> NotifyResult:
        settings = NotifySettings(policy=DeliveryPolicy(sleep=sleeps), **kw)
        store = Store.open(db_path)
        try:
            runtime = NotifyRuntime(
                clock=clock,
                stop=stop or threading.Event(),
                owner=owner,
                hurry=hurry or threading.Event(),
                is_alive=is_alive,
            )
            return deliver_pending(store, channel, settings, runtime)
        finally:
            store.close()

    return run
