"""The webhook channel against a receiver on loopback that checks the signature the
way an integrator would, and drops repeated event ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from antaeus_cli.channels.port import Message, Permanent, Scope, Transient
from antaeus_cli.channels.webhook import WebhookChannel, WebhookSettings, sign, verify
from antaeus_cli.domain.notices import NoticeKind
from tests.servers.smtp import free_port
from tests.servers.webhook import webhook_receiver

SECRET = b"whsec_test"


def event_message(key: str = "ns-inv-1-1-receipt") -> Message:
    event = {"schema_version": 1, "id": key, "type": "receipt", "created": 1, "data": {"n": 1}}
    created = datetime(2026, 12, 1, tzinfo=UTC)
    return Message(key, NoticeKind.RECEIPT, created, None, "", "", "", event)


def channel(port: int, secret: bytes = SECRET) -> WebhookChannel:
    settings = WebhookSettings("127.0.0.1", port, "/hooks", secret, tls=False, timeout=5.0)
    return WebhookChannel(settings, f"webhook://127.0.0.1:{port}/hooks")


def test_a_signed_event_is_accepted_and_a_repeat_is_dropped_by_its_id() -> None:
    with webhook_receiver(SECRET) as (port, receiver):
        hook = channel(port)
        hook.deliver(event_message())
        hook.deliver(event_message())  # a redelivery after a crash: the same id
        hook.deliver(event_message("ns-inv-2-1-receipt"))
        hook.close()
    assert [e["id"] for e in receiver.events] == ["ns-inv-1-1-receipt", "ns-inv-2-1-receipt"]
    assert receiver.repeats == 1
    assert receiver.refused == []


def test_a_wrong_secret_is_refused_by_the_receiver_and_is_permanent() -> None:
    """A rotated secret: the receiver refuses every event alike, so the refusal may be
    the channel's (notify stops once every event meets it), not this event's."""
    with (
        webhook_receiver(SECRET) as (port, receiver),
        pytest.raises(Permanent, match="HTTP 400") as failed,
    ):
        channel(port, secret=b"not the secret").deliver(event_message())
    assert failed.value.scope is Scope.CHANNEL
    assert receiver.refused == ["bad signature"]
    assert receiver.events == []


@pytest.mark.parametrize(
    ("status", "kind", "scope"),
    [
        (500, Transient, Scope.CHANNEL),
        (503, Transient, Scope.CHANNEL),
        (429, Transient, Scope.CHANNEL),
        (408, Transient, Scope.CHANNEL),
        (401, Permanent, Scope.CHANNEL),
        (404, Permanent, Scope.CHANNEL),
        (410, Permanent, Scope.CHANNEL),
        (301, Permanent, Scope.CHANNEL),
        (409, Permanent, Scope.NOTICE),
        (413, Permanent, Scope.NOTICE),
        (422, Permanent, Scope.NOTICE),
    ],
)
def test_answers_are_taken_as_the_table_says(
    status: int, kind: type[Exception], scope: Scope
) -> None:
    with webhook_receiver(SECRET) as (port, receiver):
        receiver.answers = [status]
        with pytest.raises(kind, match=f"HTTP {status}") as failed:
            channel(port).deliver(event_message())
        assert isinstance(failed.value, Permanent | Transient)
        assert failed.value.scope is scope


def test_a_receiver_that_is_not_there_is_transient() -> None:
    with pytest.raises(Transient):
        channel(free_port()).deliver(event_message())


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    body = json.dumps({"id": "x"}).encode()
    header = sign(SECRET, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, header, body, now=1_700_000_010, tolerance=300)
    assert not verify(SECRET, header, body + b" ", now=1_700_000_010, tolerance=300)
    assert not verify(
        SECRET,
        header.replace("t=1700000000", "t=1700000001"),
        body,
        now=1_700_000_010,
        tolerance=300,
    )
    assert not verify(SECRET, header, body, now=1_700_001_000, tolerance=300)
    assert not verify(b"other", header, body, now=1_700_000_010, tolerance=300)
    assert not verify(SECRET, "garbage", body, now=1_700_000_010, tolerance=300)


def test_a_long_answer_never_makes_the_next_event_go_twice() -> None:
    with webhook_receiver(SECRET) as (port, receiver):
        receiver.answer_size = 200_000  # more than the channel reads of an answer
        hook = channel(port)
        for n in range(1, 6):
            hook.deliver(event_message(f"ns-inv-{n}-1-receipt"))
        hook.close()
    assert receiver.posts == 5
    assert receiver.repeats == 0
