"""A throwaway PostgreSQL cluster for the suite: Debian's server binaries, a data
directory and a unix socket in a temporary directory, no TCP at all, fsync off.

`initdb` and `pg_ctl` refuse to run as root, which CI is: as root, the directory is
given to the `postgres` user and both run through `runuser -u postgres --`. The
cluster is stopped by its own pid (the first line of `postmaster.pid`), with a bounded
wait, and its directory removed. A test process killed before it could stop its cluster
(SIGTERM, SIGKILL, a second Ctrl-C) leaves it running: the next start stops every
cluster whose owning process is gone, and removes its directory. Nothing here touches
the network.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "antaeus"  # the bootstrap role, whatever the OS user
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
REQUIRE = "ANTAEUS_TEST_PG"  # "require": no server binaries is a failure, not a skip
PREFIX = "antaeus-pg-"
OWNER = "owner.pid"  # the test process that started the cluster


class NoServer(Exception):
    """No PostgreSQL server binaries on this machine."""


def server_binaries() -> Path:
    """The folder of `initdb`, `pg_ctl` and `postgres`: `pg_config --bindir` when it has
    them, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
        )
        candidates.append(Path(found.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        (Path(v) for v in versions), key=lambda p: int(p.parent.name), reverse=True
    )
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise NoServer(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in `pg_config --bindir` or "
        "/usr/lib/postgresql/*/bin: install Debian's postgresql package"
    )


@dataclass
class Cluster:
    """A running cluster: connect with `conninfo(dbname)`."""

    root: Path  # holds the data directory, the socket and the log
    pid: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.root} dbname={dbname} user={SUPERUSER}"

    def url(self, dbname: str = "postgres") -> str:
        """The database as a URL, its socket directory as the `host` parameter."""
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.root}"

    def running(self) -> bool:
        """Whether the postmaster runs: its pid names a live `postgres` process (not
        another process that was given the pid since)."""
        return _alive(self.pid) and _command(self.pid) == "postgres"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL, each waited
        for a bounded time; then the directory is removed."""
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            if not self.running():
                break
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def reap_orphans(parent: str = "/tmp") -> list[Path]:
    """Stop the clusters whose test process is gone, and remove their directories: what
    a killed run left behind. Those of live processes are left alone."""
    reaped = []
    for root in Path(parent).glob(f"{PREFIX}*"):
        try:
            owner = int((root / OWNER).read_text())
        except (OSError, ValueError):
            continue  # not started by this module, or still being made
        if _alive(owner):
            continue
        _stop_whatever_started(root)
        reaped.append(root)
    return reaped


def _as_server_user(argv: list[str]) -> list[str]:
    """`argv` as the user the server may run as: `postgres` when we are root."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise NoServer("running as root, and no runuser to start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--", *argv]


def start(parent: str = "/tmp") -> Cluster:
    """A new cluster in a fresh directory under `parent` (a short path: a unix socket's
    path must stay under 108 bytes)."""
    binaries = server_binaries()
    reap_orphans(parent)
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (root / OWNER).write_text(str(os.getpid()))
    try:
        if os.geteuid() == 0:
            try:
                server = pwd.getpwnam("postgres")
            except KeyError:
                raise NoServer("running as root, and no postgres user to run the server") from None
            os.chown(root, server.pw_uid, server.pw_gid)
        data, log = root / "data", root / "server.log"
        _run(
            [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER,
             "-E", "UTF8", "--no-locale", "--no-sync"],
        )  # fmt: skip
        options = (
            f"-k {root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        _run(
            [str(binaries / "pg_ctl"), "start", "-D", str(data), "-w", "-t",
             str(START_TIMEOUT_S), "-l", str(log), "-o", options],
        )  # fmt: skip
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except BaseException:
        _stop_whatever_started(root)
        raise
    return Cluster(root, pid)


def _run(argv: list[str]) -> None:
    done = subprocess.run(
        _as_server_user(argv),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S + 10,
        check=False,
        cwd="/",  # the server user may not read ours
    )
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} exited {done.returncode}: {done.stderr[-2000:]}")


def _stop_whatever_started(root: Path) -> None:
    pidfile = root / "data" / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        shutil.rmtree(root, ignore_errors=True)
        return
    Cluster(root, pid).stop()
