"""An SMTP server that accepts and counts, for benchmarks: aiosmtpd on loopback in a
process of its own, so its work does not share the client's interpreter.

    python -m tests.servers.smtp_sink      # prints its port, then serves until killed
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers.smtp import free_port


class _Count:
    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, _envelope: Envelope
    ) -> str:
        self.messages += 1
        return "250 OK"


def main() -> None:
    port = free_port()
    controller = Controller(_Count(), hostname="127.0.0.1", port=port, ready_timeout=10.0)
    controller.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    done = threading.Event()

    def stop(*_args: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
