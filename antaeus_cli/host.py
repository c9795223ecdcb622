"""Who is running a pass, and whether that process still exists."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process, told apart from a later one that reuses its pid by its start time."""

    host: str
    pid: int
    tag: str

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def current_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(socket.gethostname(), pid, _start_tag(pid))


def is_alive(holder: ProcessIdentity) -> bool | None:
    """True or False when it can be known; None for a process on another host."""
    if holder.host != socket.gethostname():
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    state, tag = _proc_stat(holder.pid)
    if state == "Z":
        return False  # killed, not yet reaped by its parent
    # A different start time means the pid now belongs to a different process.
    return not (holder.tag and tag != holder.tag)


def _start_tag(pid: int) -> str:
    return _proc_stat(pid)[1]


def _proc_stat(pid: int) -> tuple[str, str]:
    """State and start time (clock ticks since boot) from /proc on Linux; '' elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", ""
    fields = stat.rsplit(")", 1)[-1].split()
    # The split starts at field 3 (state); field 22 is starttime.
    if len(fields) <= 19:
        return "", ""
    return fields[0], fields[19]
