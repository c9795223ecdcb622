"""`antaeus notify`: deliver what the outbox holds, then exit.

Notices are claimed a batch at a time under a lease (`store.deliveries`), rendered
(`notify.render`) and handed to the channel, one connection for the run. A
delivery is marked after it went; marks are committed together, every
`flush_every` deliveries and at the end of each batch. A crash between a delivery
and its mark is the one way a notice goes twice, and it goes under the same
identity (Message-ID, event id): delivery is at least once, never silently lost.

A transient failure is retried within the run (tenacity: bounded tries and time,
with jitter), then across runs with a backoff (`domain.notices.backoff`) up to
MAX_TRIES. A run stops early, handing back what it has not tried, on a signal, on
`outage_after` notices in a row that failed for now (the channel is down), or when
the channel refuses us outright (credentials).

A failure every notice meets is the channel's, not the notices'. A refusal that may
be the channel's (`Scope.CHANNEL`: a relay that will not relay, a webhook path that
is not there) fails nothing at first: the notice waits while the run goes on. Once
the channel delivers another notice, the refusals before it were the notices' own,
and they fail. When `outage_after` notices in a row are refused and none delivered
between, or a run delivers nothing and its notices were refused, the channel refuses
us: the run stops (exit 2) and every one of them waits, untried, for the next run.
A failure that is the notice's alone (`Scope.NOTICE`: its address, its size, one
recipient greylisted) counts its try and the run goes on; it never stops the run.
"""

from __future__ import annotations

import time
from datetime import datetime

from antaeus_cli import failpoints as fp
from antaeus_cli.channels.port import (
    Channel,
    Message,
    Permanent,
    Scope,
    Transient,
    Unaddressed,
)
from antaeus_cli.domain.notices import NoticeKind, NoticeStatus, backoff
from antaeus_cli.domain.words import counted
from antaeus_cli.notify.letters import TemplateFailure
from antaeus_cli.notify.messages import message_for
from antaeus_cli.notify.results import Failure, NotifyResult
from antaeus_cli.notify.settings import NotifyRuntime, NotifySettings, retrying
from antaeus_cli.notify.watchdog import Watchdog
from antaeus_cli.store.database import Store
from antaeus_cli.store.deliveries import Pending


def deliver_pending(
    store: Store, channel: Channel, settings: NotifySettings, runtime: NotifyRuntime
) -> NotifyResult:
    watch = Watchdog(channel.abort, runtime.stop, runtime.hurry)
    run = _Delivery(store, channel, settings, runtime, watch)
    try:
        run.drain()
    finally:
        watch.close()
        channel.close()
    return run.result


class _Delivery:
    def __init__(
        self,
        store: Store,
        channel: Channel,
        settings: NotifySettings,
        runtime: NotifyRuntime,
        watch: Watchdog,
    ) -> None:
        self._store, self._channel, self._settings, self._rt = store, channel, settings, runtime
        self._watch = watch
        self.result = NotifyResult(channel.description)
        self._streak = 0  # notices in a row that failed for now
        self._sent: list[int] = []
        self._ended: list[tuple[int, NoticeStatus, str]] = []
        self._again: list[tuple[int, datetime, str]] = []
        self._delivered = False  # the channel delivered a notice in this run
        # refused by what may be the channel's answer, since its last delivery: held
        self._suspects: list[tuple[Pending, str]] = []
        # The retries once a first try has failed.
        self._retrying = retrying(settings.policy, runtime.stop)

    def drain(self) -> None:
        self._batches()
        self._conclude()
        if self._rt.stop.is_set() and self.result.stop_reason is None:
            self.result.stop_reason = "stopped by a signal; the rest is delivered next run"

    def _batches(self) -> None:
        budget = self._settings.limit
        while self.result.stop_reason is None and not self._rt.stop.is_set():
            size = (
                self._settings.batch_size
                if budget is None
                else min(budget, self._settings.batch_size)
            )
            if size <= 0:
                return
            now = self._rt.clock()
            with self._store.notices() as outbox:
                batch, broken = outbox.lease(
                    owner=self._rt.owner,
                    now=now,
                    until=now + self._settings.lease,
                    limit=size,
                    is_alive=self._rt.is_alive,
                )
            for row in broken:
                self.result.failed += 1
                self.result.note(Failure(row.key, NoticeStatus.FAILED.value, row.reason))
            if not batch and not broken:
                return
            if budget is not None:
                budget -= len(batch) + len(broken)
            self._batch(batch)

    def _conclude(self) -> None:
        """The refusals still held at the end: the channel's, when the run delivered
        nothing (they wait, untried); else tried again later, as a failure for now."""
        if not self._suspects:
            return
        if self._delivered or self._rt.stop.is_set() or self.result.stop_reason is not None:
            held, self._suspects = self._suspects, []
            if self._delivered and not self._rt.stop.is_set():
                for notice, reason in held:
                    self._later(notice, reason)
                self._flush()
            else:
                self._release([notice for notice, _ in held])
            return
        self._channel_refused()

    def _batch(self, batch: list[Pending]) -> None:
        claimed_at = time.monotonic()
        owned: set[int] | None = None  # None: all of the batch, the lease never renewed
        try:
            for index, notice in enumerate(batch):
                if self._rt.stop.is_set() or self.result.stop_reason is not None:
                    self._release(batch[index:])
                    break
                if time.monotonic() - claimed_at > self._settings.lease.total_seconds() / 2:
                    owned = self._extend([*batch[index:], *(n for n, _ in self._suspects)])
                    claimed_at = time.monotonic()
                if owned is not None and notice.id not in owned:
                    continue  # the lease ran out during a slow delivery; another run has it
                try:
                    self._one(notice)
                except BaseException:
                    held, self._suspects = self._suspects, []
                    self._release([*batch[index:], *(n for n, _ in held)])
                    raise
                if len(self._sent) >= self._settings.flush_every:
                    self._flush()
        finally:
            self._flush()

    def _message(self, notice: Pending) -> Message | None:
        """The notice rendered; None when it cannot be (its row, or a template)."""
        settings = self._settings
        try:
            return message_for(
                notice, self._channel.renders, settings.letters, settings.company_zone
            )
        except TemplateFailure as exc:
            self._templates_failed(notice, str(exc))
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # a value no message can carry (this row's), found as it was rendered
            self._end(notice, NoticeStatus.FAILED, f"cannot be rendered: {exc}")
        return None

    def _one(self, notice: Pending) -> None:
        message = self._message(notice)
        if message is None:
            return
        try:
            self._deliver(message)
        except (ValueError, TypeError, OverflowError) as exc:
            # the e-mail or event its parts make cannot be written (the channel's own
            # setup refuses the channel instead: ChannelRefused)
            self._end(notice, NoticeStatus.FAILED, f"cannot be sent as it is: {exc}")
            return
        except Transient as exc:
            if exc.scope is Scope.NOTICE:  # one recipient's (greylisted): not an outage
                self._later(notice, str(exc))
                self._streak = 0
            else:
                self._failed_for_now(notice, str(exc))
            return
        except Permanent as exc:
            self._streak = 0  # the server answered: it is there
            if exc.scope is Scope.NOTICE:
                self._end(notice, NoticeStatus.FAILED, str(exc))
            else:
                self._suspect(notice, str(exc))
            return
        except Unaddressed as exc:
            self._end(notice, NoticeStatus.SKIPPED, str(exc))
            return
        if self._rt.failpoints:
            self._rt.failpoints.hit(fp.AFTER_NOTICE_SENT, notice.id)
        self._sent.append(notice.id)
        self.result.sent += 1
        self._streak = 0
        if notice.kind is NoticeKind.RUN_SUMMARY:
            return  # to the operator's address: it proves nothing of the customers' (a relay)
        self._delivered = True
        for refused, reason in self._suspects:  # the channel delivers: those were theirs
            self._end(refused, NoticeStatus.FAILED, reason)
        self._suspects = []

    def _templates_failed(self, notice: Pending, reason: str) -> None:
        """A template that cannot render is the operator's setting: every notice would
        meet it. The run stops; the notice waits, untried, with the rest."""
        self.result.channel_refused = True
        self.result.stop_reason = (
            f"a template failed: {reason}; fix it (antaeus notify --check-templates); the "
            "notices wait, untried, for the next run"
        )
        self.result.note(Failure(notice.key, NoticeStatus.PENDING.value, reason))
        self._release([notice])

    def _suspect(self, notice: Pending, reason: str) -> None:
        """Refused by an answer that may be the channel's: held until the channel says."""
        self._suspects.append((notice, reason))
        if len(self._suspects) >= self._settings.outage_after:
            self._channel_refused()

    def _channel_refused(self) -> None:
        held, self._suspects = self._suspects, []
        last = held[-1][1]
        self.result.channel_refused = True
        self.result.stop_reason = (
            f"the channel refused {counted(len(held), 'notice')} in a row and delivered none "
            f"(last: {last}): its settings are wrong, not the notices; they wait, untried, "
            "for the next run"
        )
        for notice, reason in held:
            self.result.note(Failure(notice.key, NoticeStatus.PENDING.value, reason))
        self._release([notice for notice, _ in held])

    def _deliver(self, message: Message) -> None:
        """Straight to the channel; tenacity only once a try has failed for now."""
        try:
            self._watched(message)
        except Transient as first:
            if self._settings.policy.tries <= 1 or first.scope is Scope.NOTICE:
                raise  # one recipient greylisted: seconds later it still is
            pending = [first]

            def again() -> None:
                if pending:  # tenacity counts the first failure and waits before the next
                    raise pending.pop()
                self._watched(message)

            self._retrying(again)

    def _watched(self, message: Message) -> None:
        """One delivery, within the channel's deadline for the whole exchange; one the
        watch cut fails for now, saying why (what the cut connection raised is noise)."""
        try:
            with self._watch.armed(self._channel.deadline):
                self._channel.deliver(message)
        except (Transient, Permanent) as exc:
            cut = self._watch.cut
            if cut is None:
                raise
            raise Transient(cut) from exc

    def _later(self, notice: Pending, reason: str) -> None:
        """Tried again after a backoff; failed for good once its tries are spent."""
        if notice.tries >= self._settings.max_tries:
            self._end(
                notice,
                NoticeStatus.FAILED,
                f"gave up after {counted(notice.tries, 'try', 'tries')}: {reason}",
            )
        else:
            at = self._rt.clock() + backoff(notice.tries)
            self._again.append((notice.id, at, reason))
            self.result.deferred += 1
            self.result.note(Failure(notice.key, NoticeStatus.PENDING.value, reason))

    def _failed_for_now(self, notice: Pending, reason: str) -> None:
        self._later(notice, reason)
        self._streak += 1
        if self._streak >= self._settings.outage_after:
            self.result.stop_reason = (
                f"channel unreachable: {counted(self._streak, 'notice')} in a row failed for now "
                f"(last: {reason}); they are tried again next run"
            )

    def _end(self, notice: Pending, status: NoticeStatus, reason: str) -> None:
        self._ended.append((notice.id, status, reason))
        if status is NoticeStatus.FAILED:
            self.result.failed += 1
        else:
            self.result.skipped += 1
        self.result.note(Failure(notice.key, status.value, reason))

    def _flush(self) -> None:
        if not (self._sent or self._ended or self._again):
            return
        now = self._rt.clock()
        with self._store.notices() as outbox:
            owner = self._rt.owner
            if self._sent:
                outbox.mark_sent(owner=owner, now=now, notice_ids=self._sent)
            for notice_id, status, reason in self._ended:
                outbox.end(owner=owner, notice_id=notice_id, status=status, error=reason)
            for notice_id, at, reason in self._again:
                outbox.again_at(owner=owner, notice_id=notice_id, at=at, error=reason)
        self._sent, self._ended, self._again = [], [], []

    def _release(self, rest: list[Pending]) -> None:
        self._flush()
        with self._store.notices() as outbox:
            outbox.release(
                owner=self._rt.owner, now=self._rt.clock(), notice_ids=[n.id for n in rest]
            )

    def _extend(self, rest: list[Pending]) -> set[int]:
        self._flush()
        until = self._rt.clock() + self._settings.lease
        with self._store.notices() as outbox:
            return outbox.extend(owner=self._rt.owner, until=until, notice_ids=[n.id for n in rest])
