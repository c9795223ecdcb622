"""What `notify` returns: what it delivered, what failed and why, or what it would send.
The CLI renders these; nothing here prints."""

from __future__ import annotations

from dataclasses import dataclass, field

LISTED_LIMIT = 100  # failures listed in a result; `antaeus report` lists them all


@dataclass(frozen=True, slots=True)
class Failure:
    key: str
    status: str  # failed, skipped, or pending (tried again later)
    reason: str


@dataclass
class NotifyResult:
    channel: str
    sent: int = 0
    failed: int = 0  # for good: an operator should look
    skipped: int = 0  # nowhere to send them (no address)
    deferred: int = 0  # failed for now; tried again in a later run
    stop_reason: str | None = None
    channel_refused: bool = False  # every notice it was given was refused: a setting
    failures: list[Failure] = field(default_factory=list)

    def note(self, failure: Failure) -> None:
        if len(self.failures) < LISTED_LIMIT:
            self.failures.append(failure)


@dataclass(frozen=True, slots=True)
class PreviewNotice:
    key: str
    kind: str
    recipient: str | None
    subject: str


@dataclass(frozen=True, slots=True)
class NotifyPreview:
    channel: str
    due: int
    listed: list[PreviewNotice]
