"""What the benchmarks share: the seeded data set and fresh copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

AS_OF = "2026-12-01"


def seed_args(db: Path, customers: int) -> list[str]:
    """`antaeus seed` of `customers` customers with one PENDING invoice each."""
    return [
        "--db",
        str(db),
        "seed",
        "--customers",
        str(customers),
        "--invoices-per-customer",
        "1",
        "--seed",
        "1",
        "--as-of",
        AS_OF,
    ]


def fresh_copy(template: Path, folder: Path, name: str) -> Path:
    """A copy of a database (with its provider ledger) in a folder of its own."""
    target = folder / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for path in template.parent.glob(f"{template.stem}*"):
        shutil.copy(path, target / path.name.replace(template.stem, "antaeus"))
    return target / "antaeus.db"
