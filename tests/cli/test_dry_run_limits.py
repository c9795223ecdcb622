"""`bill --dry-run` with a run cap, through the CLI: the preview stops where a real
pass with the same `--max-total` would, and says so, in text and in JSON (valid
against the published schema); its zones count every due invoice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from tests.cli.test_json_schema import valid

AS_OF = ("--as-of", "2026-12-01")
# A cent in every currency the seed bills: no charge fits, so the pass stops at once.
CAPS = [
    arg for cur in ("EUR", "USD", "DKK", "SEK", "GBP") for arg in ("--max-total", f"{cur}=0.01")
]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ANTAEUS_DB", "ANTAEUS_PROVIDER", "ANTAEUS_DUNNING", "ANTAEUS_TZ"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    path = tmp_path / "antaeus.db"
    seeded = CliRunner().invoke(app, ["--db", str(path), "seed", "--seed", "1", *AS_OF])
    assert seeded.exit_code == 0, seeded.stderr
    return path


def dry_run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), "bill", *AS_OF, "--dry-run", *args])
    return result.exit_code, result.stdout


def test_a_dry_run_stops_where_the_cap_would_and_says_so(db: Path) -> None:
    code, out = dry_run(db, "--json", *CAPS)
    assert code == 0, out
    shown: dict[str, Any] = json.loads(out)
    valid("preview", shown)
    assert shown["to_charge"] == []
    assert shown["invoices"] == []
    assert "past --max-total" in shown["stop_reason"]
    due = sum(zone["due"] for zone in shown["zones"])
    held = shown["needs_operator_count"] + shown["awaiting_customer_count"]
    assert shown["beyond_cap_count"] == due - held > 0
    code, text = dry_run(db, *CAPS)
    assert code == 0
    assert "would stop: run cap:" in text
    assert f"would leave {shown['beyond_cap_count']} due invoices" in text


def test_a_dry_runs_zones_add_up_to_what_it_would_do(db: Path) -> None:
    """The seed plants invoices a pass holds (a currency mismatch, a zero amount, an
    unknown currency): each zone's due counts them, as held."""
    code, out = dry_run(db, "--json")
    assert code == 0, out
    shown: dict[str, Any] = json.loads(out)
    valid("preview", shown)
    held = shown["needs_operator_count"] + shown["awaiting_customer_count"]
    assert held > 0
    assert sum(zone["held"] for zone in shown["zones"]) == held
    charged = sum(total["count"] for total in shown["to_charge"])
    assert sum(zone["due"] for zone in shown["zones"]) == charged + held
    assert shown["stop_reason"] is None
    assert shown["beyond_cap_count"] == 0
