"""Files stay private, SQL stays parameterised."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

from typer.testing import CliRunner

from antaeus_cli.cli.app import app

PACKAGE = Path(__file__).resolve().parents[2] / "antaeus_cli"

# Every interpolation allowed inside SQL text: constants and joins of "?" markers,
# never a value. A new entry here needs a reviewer's eye.
ALLOWED_IN_SQL = {
    "_ROW_COLUMNS",
    "_FROM",
    "_LATEST",
    "latest_sql",  # _LATEST, or 0 when no invoice of the range was ever tried
    "CHARGEABLE_SQL",
    "in_range",
    "due.invoices",
    "where",  # due.condition(days): the due rule's SQL, from constants and bound values
    "KNOWN_ZONE",
    "local_date",  # _local_date(days): a bound value, or a lookup written in constants
    "_CUSTOMER",
    "DUPLICATE",
    "MONTH_CHARGED",
    "only.sql",  # claims.Latest: whole numbers written with :d
    "guards.unusual",
    "guards.columns",
    "assignments",
    "placeholders",
    "APPLICATION_ID",
    "SIM_APPLICATION_ID",
    "SCHEMA_VERSION",
    "MAX_REF_LENGTH",
    "current + 1",
    "trigger",
    "_UNDELIVERED",
}


def test_every_file_antaeus_writes_is_private(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ANTAEUS_PROVIDER", raising=False)
    db = tmp_path / "antaeus.db"
    runner = CliRunner()
    assert runner.invoke(app, ["--db", str(db), "seed", "--customers", "20"]).exit_code == 0
    assert runner.invoke(app, ["--db", str(db), "bill"]).exit_code in (0, 1)
    assert (
        runner.invoke(app, ["--db", str(db), "seed", "--force", "--customers", "5"]).exit_code == 0
    )
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert any(p.name.endswith("-wal") or ".replaced-" in p.name for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path.name} is readable by others"


def _sql_interpolations(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("execute", "executemany") or not node.args:
            continue
        sql = node.args[0]
        if isinstance(sql, ast.BinOp):  # "..." % (...) or "..." + x
            found.append(ast.unparse(sql))
        for part in ast.walk(sql):
            if isinstance(part, ast.FormattedValue):
                found.append(ast.unparse(part.value))
            if isinstance(part, ast.Call) and getattr(part.func, "attr", "") == "format":
                found.append(ast.unparse(part))
    return found


def test_sql_is_built_from_constants_only() -> None:
    unexpected = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        pieces = _sql_interpolations(ast.parse(path.read_text()))
        strange = [p for p in pieces if p not in ALLOWED_IN_SQL]
        if strange:
            unexpected[str(path.relative_to(PACKAGE))] = strange
    assert unexpected == {}


def test_the_scanner_catches_a_value_pasted_into_sql() -> None:
    tree = ast.parse("conn.execute(f\"SELECT * FROM invoice WHERE currency = '{currency}'\")")
    assert _sql_interpolations(tree) == ["currency"]
