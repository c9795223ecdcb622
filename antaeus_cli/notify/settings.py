"""What a `notify` run is given: its settings, its runtime (clock, stop, owner), and
how one notice is tried again within the run (tenacity: bounded tries and time, with
jitter, on failures for now only, cut short by a stop)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)

from antaeus_cli import failpoints as fp
from antaeus_cli import host
from antaeus_cli.channels.port import Transient
from antaeus_cli.domain.notices import MAX_TRIES
from antaeus_cli.notify.branding import Branding
from antaeus_cli.notify.letters import Letters
from antaeus_cli.store.runs import Liveness

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Retries of one notice within a run, on Transient failures only."""

    tries: int = 3
    max_seconds: float = 30.0
    first_wait: float = 0.5  # then 1, 2, ... up to max_wait
    max_wait: float = 4.0
    jitter: float = 0.5
    sleep: Callable[[float], None] | None = None  # None: waits on the stop event


def _built_in() -> Letters:
    return Letters(Branding())


@dataclass(frozen=True, slots=True)
class NotifySettings:
    letters: Letters = field(default_factory=_built_in)  # templates and branding
    batch_size: int = 200
    lease: timedelta = timedelta(minutes=10)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    outage_after: int = 5  # notices in a row that failed for now: the channel is down
    max_tries: int = MAX_TRIES
    # Marks committed after this many deliveries. 1: each delivery is marked at once, so a
    # crash repeats only the notice it interrupted (a commit costs far less than a send).
    flush_every: int = 1
    limit: int | None = None  # at most this many notices this run
    # The zone in which customers without one are told their dates (None: the machine's).
    company_zone: tzinfo | None = None


@dataclass(frozen=True, slots=True)
class NotifyRuntime:
    clock: Clock
    stop: threading.Event  # a first signal: the delivery in flight gets STOP_GRACE_S
    owner: str  # names this run in lease_owner
    failpoints: fp.Failpoints = fp.NONE
    hurry: threading.Event = field(default_factory=threading.Event)  # a second: at once
    # whether the pass holding the lock lives: its notices wait until it ended or died
    is_alive: Liveness = host.is_alive


def retrying(policy: DeliveryPolicy, stop: threading.Event) -> Retrying:
    return Retrying(
        retry=retry_if_exception_type(Transient),
        stop=(
            stop_after_attempt(policy.tries)
            | stop_after_delay(policy.max_seconds)
            | stop_when_event_set(stop)
        ),
        wait=wait_exponential(multiplier=policy.first_wait, max=policy.max_wait)
        + wait_random(0, policy.jitter),
        sleep=policy.sleep or (lambda seconds: _wait(stop, seconds)),
        reraise=True,
    )


def _wait(stop: threading.Event, seconds: float) -> None:
    """A retry's wait, cut short by a signal."""
    stop.wait(seconds)
