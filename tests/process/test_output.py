"""A pass's exit code is its own: output that cannot be written (stdout or stderr
closed, a full disk, a reader that went away) is dropped, and the pass goes on."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.process.helpers import antaeus, cli_env, command

pytestmark = pytest.mark.process

BILL = ("bill", "--as-of", "2026-12-01", "--provider", "sim://?seed=1")


def seeded(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name / "antaeus.db"
    path.parent.mkdir()
    done = antaeus(path, "seed", "--customers", "60", "--seed", "3", "--as-of", "2026-12-01")
    assert done.returncode == 0, done.stderr
    return path


def closed(db: Path, *args: str) -> int:
    """stdout and stderr closed outright, as `>&- 2>&-` leaves them."""
    return subprocess.run(
        command(db, *args),
        env=cli_env(),
        stdout=None,
        stderr=None,
        close_fds=True,
        preexec_fn=lambda: (os.close(1), os.close(2)),
        timeout=120,
        check=False,
    ).returncode


def full_disk(db: Path, *args: str) -> int:
    """Every write fails with ENOSPC, as a full disk under `>> log 2>&1` does."""
    with open("/dev/full", "w") as full:
        return subprocess.run(
            command(db, *args),
            env=cli_env(),
            stdout=full,
            stderr=full,
            timeout=120,
            check=False,
        ).returncode


def broken_pipe(db: Path, *args: str) -> int:
    """The reader goes away before the pass writes anything (`| head -c0`)."""
    proc = subprocess.Popen(
        command(db, *args), env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    proc.stdout.close()
    return proc.wait(timeout=120)


@pytest.mark.parametrize("run", [closed, full_disk, broken_pipe], ids=lambda f: f.__name__)
@pytest.mark.parametrize("json_output", [False, True], ids=["table", "json"])
def test_output_that_cannot_be_written_changes_nothing(
    tmp_path: Path, run: Callable[..., int], json_output: bool
) -> None:
    args = (*BILL, "--json") if json_output else BILL
    normal_db, hostile_db = seeded(tmp_path, "normal"), seeded(tmp_path, "hostile")
    normal = antaeus(normal_db, *args)
    assert normal.returncode == 1, normal.stderr  # the seed plants invoices for an operator
    assert run(hostile_db, *args) == normal.returncode

    def outcome(db: Path) -> list[tuple[object, ...]]:
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT status, paid, declined, needs_operator FROM billing_run"
            ).fetchall()

    assert outcome(hostile_db) == outcome(normal_db) == [("completed", *outcome(normal_db)[0][1:])]
