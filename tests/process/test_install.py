"""A production install from a checkout: the wheel built from it, installed into a new
virtualenv, runs on its own, with no file of the checkout on its path. The wheel's
dependencies come from the test run's own environment (nothing is downloaded)."""

from __future__ import annotations

import email
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from antaeus_cli import __version__
from antaeus_cli.store.schema import SCHEMA_VERSION

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_installs_into_a_new_virtualenv_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--wheel-dir", dist, ROOT, cwd=tmp_path)  # fmt: skip
    (wheel,) = dist.glob("antaeus_cli-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"antaeus_cli-{__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert metadata["Version"] == __version__
    assert "antaeus = antaeus_cli.cli.app:main" in entry_points
    assert any(n.startswith(f"{info}/") and "LICENSE" in n for n in names), sorted(names)
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    (packages,) = venv.glob("lib/python*/site-packages")
    # The dependencies, from this environment; not antaeus itself (its editable
    # finder is a .pth there, and .pth files on a path added this way are not read).
    (packages / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
        "--no-deps", "--no-index", "--quiet", wheel, cwd=tmp_path)  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    antaeus = venv / "bin" / "antaeus"
    version = f"antaeus {__version__} (database schema {SCHEMA_VERSION})\n"
    assert run(antaeus, "--version", cwd=elsewhere) == version
    where = run(venv / "bin" / "python", "-c", "import antaeus_cli; print(antaeus_cli.__file__)",
                cwd=elsewhere)  # fmt: skip
    assert Path(where.strip()).is_relative_to(venv), where
    out = run(antaeus, "--db", elsewhere / "prod.db", "init", cwd=elsewhere)
    assert f"schema {SCHEMA_VERSION}" in out
    run(antaeus, "--db", elsewhere / "prod.db", "report", "--format", "json", cwd=elsewhere)
