"""The commands that only read (`report`, `check`, the dry runs) write nothing and make
no file beside the database, not even the -wal and -shm files SQLite makes to open it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.exit_codes import ExitCode
from tests.cli.test_cli import run

AS_OF = "2026-12-01"
LONG_AGO_NS = 1_000_000_000 * 1_700_000_000  # written long ago, as between passes

READING = [
    ("report",),
    ("report", "--json"),
    ("report", "--format", "csv"),
    ("check", "--as-of", "2026-12-01T06:00:00Z"),
    ("check", "--json"),
    ("check", "--metrics-file", "{out}/antaeus.prom"),
    ("bill", "--dry-run", "--as-of", AS_OF),
    ("retry-failed", "--dry-run", "--as-of", "2026-12-20"),
    (
        "notify",
        "--dry-run",
        "--notify",
        "maildir://{out}/mail?from=billing@example.com&operator=ops@example.com",
    ),
]


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file's bytes and modification time, and the folder's own time, which moves
    when a file is made or removed in it."""
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}
    return {**files, ".": (b"", folder.stat().st_mtime_ns)}


@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_a_command_that_only_reads_leaves_every_file_as_it_was(
    runner: CliRunner,
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    db = data / "antaeus.db"
    code, _, err = run(runner, db, "seed", "--customers", "20", "--seed", "1", "--as-of", AS_OF)
    assert code == ExitCode.OK, err
    code, _, err = run(runner, db, "bill", "--as-of", AS_OF, "--provider", "sim://")
    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), err
    for path in [*data.iterdir(), data]:  # last written long ago: a write now shows
        os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))
    before = state(data)

    code, output, err = run(runner, db, *(arg.format(out=out) for arg in args))

    assert code in (ExitCode.OK, ExitCode.NEEDS_OPERATOR), output + err
    assert output
    assert state(data) == before
