"""Who is running a pass, and whether that process still exists."""

from __future__ import annotations

import os
import pwd
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process: host, pid, and a tag of boot id, pid namespace and start time.

    The tag tells a process apart from a later one that reuses its pid, and tells
    when a pid cannot be checked at all: two containers may share a hostname while
    each has its own pid 1.
    """

    host: str
    pid: int
    tag: str

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def current_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(socket.gethostname(), pid, _tag(pid))


MAX_USER = 100  # characters of a login name kept: one a hostile environment gives is cut


def current_user() -> str:
    """Who runs this process, for a record of an operator's act: the login of its
    effective user, and, when it runs through sudo, the login sudo says ran it."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no entry (a container's): the number says who
        name = f"uid {uid}"
    via = os.environ.get("SUDO_USER", "")
    if via and via != name:
        name = f"{name} (sudo from {via})"
    # A byte the locale cannot decode (os.environ's and pwd's surrogate escapes) is
    # recorded as U+FFFD: the database takes UTF-8 text only.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:MAX_USER]


def is_alive(holder: ProcessIdentity) -> bool | None:
    """True or False when it can be known; None when the holder's pid means nothing
    here (another host, another boot, another pid namespace): trust its heartbeat."""
    if holder.host != socket.gethostname():
        return None
    mine = _tag(os.getpid()).split("/")
    theirs = holder.tag.split("/")
    if len(theirs) != 3 or len(mine) != 3 or theirs[:2] != mine[:2] or not all(mine[:2]):
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    state, started = _proc_stat(holder.pid)
    if state == "Z":
        return False  # killed, not yet reaped by its parent
    # A different start time means the pid now belongs to a different process.
    return started == theirs[2]


def _tag(pid: int) -> str:
    """'boot id/pid namespace/start time' on Linux; '' parts where unknown."""
    return f"{_read('/proc/sys/kernel/random/boot_id')}/{_pid_namespace()}/{_proc_stat(pid)[1]}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, str]:
    """State and start time (clock ticks since boot) from /proc/PID/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", ""
    fields = stat.rsplit(")", 1)[-1].split()
    # The split starts at field 3 (state); field 22 is starttime.
    if len(fields) <= 19:
        return "", ""
    return fields[0], fields[19]
