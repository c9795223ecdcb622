"""A machine zone further ahead of UTC than any place never bills a day early."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.process.helpers import antaeus

pytestmark = pytest.mark.process


def test_a_machine_tz_past_utc_plus_14_is_refused_before_anything_is_charged(
    tmp_path: Path,
) -> None:
    db = tmp_path / "antaeus.db"
    assert antaeus(db, "seed", "--customers", "3", "--seed", "1").returncode == 0
    refused = antaeus(db, "bill", "--provider", "sim://", TZ="XXX-24")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "a date that has begun nowhere yet" in refused.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM payment_attempt").fetchone() == (0,)
    looked = antaeus(db, "bill", "--provider", "sim://", "--dry-run", TZ="XXX-24")
    assert looked.returncode == 0, looked.stderr
