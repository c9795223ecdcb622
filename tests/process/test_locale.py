"""A database path the locale cannot spell: under `LC_ALL=C` with UTF-8 mode off, Python
holds a non-ASCII file name with surrogate escapes. Every command still opens the
file the name gives, and an error names it without failing to print it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.process.helpers import antaeus

pytestmark = pytest.mark.process

C_LOCALE = {"PYTHONUTF8": "0", "LC_ALL": "C", "LANG": "C"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    folder = tmp_path / "ünï"
    folder.mkdir()
    return folder / "d b.db"


def test_every_command_opens_a_non_ascii_path_under_the_c_locale(db: Path) -> None:
    seeded = antaeus(db, "seed", "--customers", "20", "--seed", "3", **C_LOCALE)
    assert seeded.returncode == 0, seeded.stderr
    assert db.exists()
    dry = antaeus(db, "bill", "--dry-run", "--as-of", "2026-12-01", **C_LOCALE)
    assert dry.returncode == 0, dry.stderr
    assert "nothing was changed" in dry.stdout
    billed = antaeus(db, "bill", "--as-of", "2026-12-01", "--json", **C_LOCALE)
    assert billed.returncode in (0, 1), billed.stderr
    assert json.loads(billed.stdout)["counts"]["paid"] > 0
    for fmt in ("table", "json", "csv"):
        shown = antaeus(db, "report", "--format", fmt, **C_LOCALE)
        assert shown.returncode == 0, (fmt, shown.stderr)
        assert shown.stderr == ""
    runs = json.loads(antaeus(db, "report", "--format", "json", **C_LOCALE).stdout)["runs"]
    assert [run["command"] for run in runs] == ["bill"]


def test_errors_about_such_a_path_are_one_line_usage_errors(db: Path) -> None:
    missing = antaeus(db, "report", **C_LOCALE)
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.startswith("antaeus: error: database ")
    assert "not found" in missing.stderr
    assert "internal error" not in missing.stderr
    assert antaeus(db, "seed", "--customers", "5", **C_LOCALE).returncode == 0
    again = antaeus(db, "seed", "--customers", "5", **C_LOCALE)
    assert again.returncode == 2, again.stderr
    # The name's bytes, escaped: what the file system holds, not Python's stand-ins.
    assert "\\xc3\\xbcn\\xc3\\xaf/d b.db" in again.stderr, again.stderr
    assert len(again.stderr.splitlines()) == 1


def test_a_provider_spec_naming_such_a_path_is_used_and_stored_as_utf_8(db: Path) -> None:
    assert antaeus(db, "seed", "--customers", "5", **C_LOCALE).returncode == 0
    ledger = db.with_name("d b.provider.db")
    spec = f"sim://?ledger={ledger}&seed=1"
    billed = antaeus(db, "bill", "--as-of", "2026-12-01", "--provider", spec, **C_LOCALE)
    assert billed.returncode in (0, 1), billed.stderr
    shown = json.loads(antaeus(db, "report", "--format", "json", **C_LOCALE).stdout)
    assert shown["runs"][0]["provider"] == f"sim://?ledger={ledger}&seed=1".replace(" ", "%20")
