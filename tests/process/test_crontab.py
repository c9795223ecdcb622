"""crontab.example, run as cron runs it: each job's command through /bin/sh with cron's
bare PATH, its `%` read as cron reads it. What a job prints is what cron mails to
MAILTO: a command that exits non-zero must say so there, and one that succeeds must
print nothing there, its own output going to its log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process.helpers import cli_env

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
BINARY = "/srv/antaeus/.venv/bin/antaeus"
CRON_PATH = "/usr/bin:/bin"  # cron's own PATH: the lines may count on nothing else
MAILED = ("bill", "retry-failed", "notify", "backup")  # a failure of these reaches MAILTO


def jobs() -> dict[str, str]:
    """Each job's command, by its antaeus subcommand, as cron hands it to the shell: an
    unescaped `%` would end the command (the rest is its stdin), and `\\%` is a `%`."""
    found = {}
    for line in (ROOT / "crontab.example").read_text().splitlines():
        if not line.strip() or line.startswith("#") or re.match(r"[A-Z_]+=", line):
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not a job line: {line}"
        command = fields[5]
        assert re.search(r"(?<!\\)%", command) is None, f"cron would cut this line: {line}"
        words = command.split()
        assert words[0] == BINARY, line
        found[words[1]] = command.replace("\\%", "%")
    return found


def test_the_template_runs_every_command_the_docs_name() -> None:
    assert sorted(jobs()) == sorted([*MAILED, "check"])


def local(command: str, tmp: Path, antaeus: Path) -> str:
    """The job with its paths moved under `tmp`, and `antaeus` in the binary's place."""
    for real in ("/var/log/antaeus/", "/srv/antaeus/backups/", "/var/lib/node_exporter/textfile/"):
        moved = tmp / real.strip("/").replace("/", "_")
        moved.mkdir(exist_ok=True)
        command = command.replace(real, f"{moved}/")
    return command.replace(BINARY, str(antaeus))


def cron(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command],
        env={"PATH": CRON_PATH, "HOME": os.environ.get("HOME", "/"), "SHELL": "/bin/sh", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stub(tmp: Path, code: int) -> Path:
    """An antaeus that writes a line on each stream and exits with `code`."""
    path = tmp / f"antaeus-exits-{code}"
    path.write_text(f'#!/bin/sh\necho "out of $*"\necho "err of $*" >&2\nexit {code}\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("name", MAILED)
@pytest.mark.parametrize("code", [1, 2, 3, 4, 5, 70])
def test_a_failure_reaches_mailto_with_its_code_and_the_log_keeps_the_output(
    tmp_path: Path, name: str, code: int
) -> None:
    command = local(jobs()[name], tmp_path, stub(tmp_path, code))
    (log,) = re.findall(r">> (\S+) 2>&1", command)
    done = cron(command)
    assert done.returncode == 0  # cron mails the output, whatever the status
    assert done.stderr == ""
    mail = done.stdout.strip().splitlines()
    assert len(mail) == 1, done.stdout
    assert f"antaeus {name} exited {code} on " in mail[0]
    assert log in mail[0]
    assert f"out of {name}" in Path(log).read_text()
    assert f"err of {name}" in Path(log).read_text()


@pytest.mark.parametrize("name", MAILED)
def test_a_success_mails_nothing_and_appends_to_the_log(tmp_path: Path, name: str) -> None:
    command = local(jobs()[name], tmp_path, stub(tmp_path, 0))
    (log,) = re.findall(r">> (\S+) 2>&1", command)
    Path(log).write_text("an earlier run\n")
    done = cron(command)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    written = Path(log).read_text()
    assert written.startswith("an earlier run\n")
    assert f"out of {name}" in written


def test_the_backup_line_names_the_file_by_the_date(tmp_path: Path) -> None:
    command = local(jobs()["backup"], tmp_path, stub(tmp_path, 0))
    cron(command)
    (log,) = re.findall(r">> (\S+) 2>&1", command)
    written = Path(log).read_text()
    assert re.search(r"^out of backup \S+/antaeus-\d{8}\.db$", written, re.MULTILINE), written


def test_check_leaves_its_verdict_to_monitoring_and_mails_only_an_error(tmp_path: Path) -> None:
    critical = cron(local(jobs()["check"], tmp_path, stub(tmp_path, 2)))
    assert critical.stdout == ""  # CRITICAL is for the monitoring system, not for mail
    assert critical.stderr.startswith("err of check")  # an error line is mailed


def test_the_real_bill_on_a_missing_database_is_mailed(tmp_path: Path) -> None:
    antaeus = Path(sys.executable).with_name("antaeus")
    command = local(jobs()["bill"], tmp_path, antaeus)
    env = cli_env(ANTAEUS_DB=str(tmp_path / "missing.db"))
    done = cron(command, **{k: v for k, v in env.items() if k.startswith(("ANTAEUS_", "NO_"))})
    assert done.stdout.startswith("antaeus bill exited 2 on "), done.stdout + done.stderr
    (log,) = re.findall(r">> (\S+) 2>&1", command)
    assert "antaeus: error: database" in Path(log).read_text()
