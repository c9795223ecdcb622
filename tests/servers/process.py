"""Starting a test server as a child process on loopback, and stopping it, with bounds."""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

START_TIMEOUT_S = 20.0


@contextlib.contextmanager
def serving(module: str, *args: str, ready_path: str, headers: dict[str, str]) -> Iterator[str]:
    """Run `python -m module`, which prints its port first; yield its base URL once a
    GET of `ready_path` answers; kill it afterwards."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], START_TIMEOUT_S)
        if not ready:
            raise RuntimeError(f"{module} printed no port within {START_TIMEOUT_S} s")
        port = int(child.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        _wait_until_answering(base + ready_path, headers)
        yield base
    finally:
        child.kill()
        child.wait(timeout=10)


def _wait_until_answering(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer: {exc}") from None
            time.sleep(0.05)
