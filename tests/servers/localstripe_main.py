"""Run localstripe, a Stripe-compatible server this project did not write, on loopback.

`python -m tests.servers.localstripe_main` binds 127.0.0.1 on a free port, prints
the port on its first line, and serves until it is killed. Its own `start()` binds
every interface and keeps its state in /tmp/localstripe.pickle, rewritten on every
write; here the state lives in memory only, so each run starts empty and leaves no
file behind.
"""

from __future__ import annotations

import socket
import sys

from aiohttp import web
from localstripe import resources, server


def _nothing(_store: object) -> None:
    """In place of localstripe's pickling of its whole state to /tmp."""


def main() -> None:
    resources.Store.dump_to_disk = _nothing  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = _nothing  # type: ignore[method-assign]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
