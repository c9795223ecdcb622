"""The arrows point one way: billing, notify, the reports, seeding and imports speak to
the store's ports, never to a database driver, and the domain does no I/O at all."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import antaeus_cli

PACKAGE = Path(antaeus_cli.__file__).parent
DRIVERS = {"sqlite3", "sqlite_utils", "psycopg"}


def _imported(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _drivers_in(*parts: str) -> dict[str, set[str]]:
    paths = [
        path
        for part in parts
        for path in (
            (PACKAGE / part).rglob("*.py") if (PACKAGE / part).is_dir() else [PACKAGE / part]
        )
    ]
    assert paths, parts
    return {
        str(path.relative_to(PACKAGE)): used
        for path in sorted(paths)
        if (used := _imported(path) & DRIVERS)
    }


def test_the_services_never_hold_a_connection() -> None:
    services = ("billing", "notify", "seeding", "reports.py", "health.py", "importing.py")
    assert _drivers_in(*services) == {}


def test_the_domain_imports_no_driver() -> None:
    assert _drivers_in("domain") == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import sqlite3.dbapi2\n    from psycopg import sql\n")
    assert _imported(module) & DRIVERS == {"sqlite3", "psycopg"}


def test_a_pass_imports_no_sqlite_utils() -> None:
    """sqlite-utils (and the click and dateutil it brings) costs an hourly pass that finds
    nothing to do about 50 ms: only the reports' queries import it."""
    code = (
        "import sys\n"
        "import antaeus_cli.cli.bill, antaeus_cli.billing.service, antaeus_cli.store.work\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlite_utils'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
