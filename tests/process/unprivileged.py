"""Running the real CLI as a user who may read the database but write neither it nor its
directory, as a monitoring user does.

Root ignores file permissions, so under root (a CI machine, a container) the CLI runs
as `nobody` through util-linux's `runuser`. That user must reach a Python and the
package: this interpreter and its install may sit where `nobody` cannot look (under
/root), so the package and the distributions it needs at run time are staged, as
hard links or copies, in a folder anyone may read, and run by the first interpreter
of the same version that `nobody` can start (this one, else the system's). Under any
other user the CLI runs as that user, with the files made read-only for it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import antaeus_cli
from tests.process.helpers import cli_env

READER = "nobody"
PACKAGE = "antaeus-cli"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Reader:
    """Starts the CLI as the reading user; `home` is a folder that user can reach,
    owned by the test's user, for the databases."""

    home: Path
    python: str
    prefix: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    uid: int | None = None  # None: the test's own user

    @property
    def is_another_user(self) -> bool:
        return self.uid is not None

    def antaeus(
        self, db: Path, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, self.python, "-m", "antaeus_cli", "--db", str(db), *args],
            env=cli_env(**self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def writable_folder(self, name: str) -> Path:
        """A folder the reading user may write in (for a metrics file)."""
        folder = self.home / name
        folder.mkdir()
        if self.uid is not None:
            os.chown(folder, self.uid, -1)
        return folder


def reader() -> Iterator[Reader]:
    """The reading user, for a fixture: skips, saying why, only where no second user
    can be had and the files cannot bind this one."""
    home = Path(tempfile.mkdtemp(prefix="antaeus-reader-", dir=_reachable_tmp()))
    home.chmod(0o755)
    try:
        if os.geteuid() != 0:
            yield Reader(home, sys.executable)
        else:
            yield _as_nobody(home)
    finally:
        _remove(home)


def _reachable_tmp() -> str | None:
    """/tmp, which every user may reach, rather than a $TMPDIR that may be private."""
    return "/tmp" if Path("/tmp").is_dir() else None


def _as_nobody(home: Path) -> Reader:
    runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if runuser is None:
        pytest.skip("running as root, which ignores file permissions, without util-linux runuser")
    try:
        uid = pwd.getpwnam(READER).pw_uid
    except KeyError:
        pytest.skip(f"running as root, which ignores file permissions, with no user {READER!r}")
    prefix = [runuser, "-u", READER, "--"]
    as_is = Reader(home, sys.executable, prefix, {}, uid)
    if _starts(as_is):
        return as_is
    site = home / "site"
    _stage(site)
    staged = {"PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    tried = []
    for python in _interpreters():
        candidate = Reader(home, python, prefix, staged, uid)
        if _starts(candidate):
            return candidate
        tried.append(python)
    pytest.skip(
        f"running as root, which ignores file permissions, and user {READER!r} can start no "
        f"Python {sys.version_info.major}.{sys.version_info.minor} (tried {', '.join(tried)}) "
        f"to run the package staged in {site}"
    )


def _starts(candidate: Reader) -> bool:
    """Whether the CLI starts as that user with that interpreter, at this version."""
    probe = subprocess.run(
        [*candidate.prefix, candidate.python, "-c", _PROBE],
        env=cli_env(**candidate.env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == _version()


_PROBE = (
    "import sys, antaeus_cli.cli.app, antaeus_cli.reports, antaeus_cli.health\n"
    "print('%d.%d' % sys.version_info[:2])\n"
)


def _version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _interpreters() -> list[str]:
    """This interpreter, the one its virtualenv was made from, then the system's, of
    this version: the staged distributions may hold extension modules built for it."""
    found = [
        sys.executable,
        getattr(sys, "_base_executable", sys.executable),
        shutil.which(f"python{_version()}", path=SYSTEM_PATH),
        shutil.which("python3", path=SYSTEM_PATH),
    ]
    return list(dict.fromkeys(p for p in found if p))


def _stage(site: Path) -> None:
    """The package and the distributions it needs at run time, under `site`."""
    site.mkdir()
    source = Path(antaeus_cli.__file__).parent
    _place_tree(source, site / source.name)
    for dist in _runtime_distributions():
        for name in dist.files or ():
            if name.parts[0] == ".." or "__pycache__" in name.parts:
                continue  # a script in bin/, or bytecode
            origin = Path(str(dist.locate_file(name)))
            if origin.is_file():
                _place(origin, site / name)
    for folder in [site, *(p for p in site.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)


def _runtime_distributions() -> list[metadata.Distribution]:
    """What the package requires to run (no extras), and what those require, in turn;
    the package itself is staged from its source."""
    found: dict[str, metadata.Distribution] = {}
    wanted = [r for r in map(Requirement, metadata.requires(PACKAGE) or ()) if _needed(r)]
    while wanted:
        name = canonicalize_name(wanted.pop().name)
        if name in found:
            continue
        found[name] = dist = metadata.distribution(name)
        wanted.extend(r for r in map(Requirement, dist.requires or ()) if _needed(r))
    return list(found.values())


def _needed(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def _place_tree(source: Path, target: Path) -> None:
    for origin in source.rglob("*"):
        if origin.is_file() and "__pycache__" not in origin.parts:
            _place(origin, target / origin.relative_to(source))


def _place(origin: Path, target: Path) -> None:
    """A hard link when the file is readable by all and on the same file system, else
    a copy readable by all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if origin.stat().st_mode & stat.S_IROTH:
        try:
            os.link(origin, target)
        except OSError:
            pass
        else:
            return
    shutil.copyfile(origin, target)
    target.chmod(0o644)


def _remove(home: Path) -> None:
    """Remove the folder, first giving back the write permission a test took away."""
    for folder in [home, *(p for p in home.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(0o755)
    shutil.rmtree(home)
