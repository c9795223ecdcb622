"""The mutation gate itself, on results built by hand the way mutmut 3 records them: a
`mutants/<module>.meta` of exit codes, and `mutants/<module>` holding each function's
unmutated copy beside its mutants. Only a killed mutant passes: no rule excuses any."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from tests.mutation_gate import agrees_with_mutmut, judge, main, pragmas, report

MODULE = "pkg/store.py"
NAME = "pkg.store"


def mutated(original: str, *mutants: str) -> str:
    """A mutated module as mutmut writes it: `x_f__mutmut_orig` and `x_f__mutmut_<n>`."""
    copies = [original.replace("def f(", "def x_f__mutmut_orig(", 1)]
    copies += [m.replace("def f(", f"def x_f__mutmut_{n}(", 1) for n, m in enumerate(mutants, 1)]
    return "\n\n".join(textwrap.dedent(copy) for copy in copies)


def results(root: Path, exit_codes: list[int | None], original: str = "", *mutants: str) -> None:
    """Write a project at `root` with one mutated module and these results."""
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / MODULE).write_text(textwrap.dedent(original) or "def f():\n    return 1\n")
    (root / "pyproject.toml").write_text(f'[tool.mutmut]\nonly_mutate = ["{MODULE}"]\n')
    (root / "mutants" / "pkg").mkdir(parents=True, exist_ok=True)
    meta = {f"{NAME}.x_f__mutmut_{n}": code for n, code in enumerate(exit_codes, 1)}
    (root / "mutants" / f"{MODULE}.meta").write_text(json.dumps({"exit_code_by_key": meta}))
    if original:
        (root / "mutants" / MODULE).write_text(mutated(original, *mutants))


SELECT = """
def f(conn, after):
    return conn.execute(
        "SELECT id FROM invoice WHERE status = 'PENDING' AND id > :after ORDER BY id",
        {"after": after},
    ).fetchall()
"""


@pytest.mark.parametrize("code", [1, 3])
def test_a_killed_mutant_passes_the_gate(tmp_path: Path, code: int) -> None:
    results(tmp_path, [code])
    assert main([], root=tmp_path) == 0


# mutmut 3.8's exit codes of every status but killed, and two it does not know
NOT_KILLED = {
    0: "survived",
    5: "no tests",
    33: "no tests",
    2: "check was interrupted by user",
    None: "not checked",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "caught by type check",
    -11: "segfault",
    -9: "segfault",
    99: "suspicious",
    -6: "suspicious",
}


@pytest.mark.parametrize(("code", "status"), NOT_KILLED.items())
def test_every_status_but_killed_fails_the_gate(
    tmp_path: Path, code: int | None, status: str
) -> None:
    results(tmp_path, [1, code])
    module = judge(tmp_path, MODULE)
    assert module.failing == [(f"{NAME}.x_f__mutmut_2", status)]
    assert report([module], io.StringIO()) == 1


def test_a_surviving_mutant_that_only_changes_sql_case_fails_the_gate(tmp_path: Path) -> None:
    """Equivalent as it may be, it is marked with its reason beside the code, or it fails."""
    lower = SELECT.replace("ORDER BY", "order by")
    results(tmp_path, [1, 0], SELECT, SELECT.replace("id >", "id >="), lower)
    module = judge(tmp_path, MODULE)
    assert module.statuses == {"killed": 1, "survived": 1}
    out = io.StringIO()
    assert report([module], out) == 1
    assert f"{NAME:<34} {2:>8} {1:>8} {1:>6} {'50.0%':>7}" in out.getvalue()


def test_a_module_without_results_fails_the_gate(tmp_path: Path) -> None:
    results(tmp_path, [1])
    (tmp_path / "mutants" / f"{MODULE}.meta").unlink()
    assert main([], root=tmp_path) == 1


def test_the_figure_counts_mutants_statuses_and_pragma_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = """
    def f(conn, n):
        every = 64  # pragma: no mutate - how often, not what
        # pragma: no mutate start - speed only: either branch returns the same rows
        if n:
            pass
        # pragma: no mutate end
        return every
    """
    results(tmp_path, [1, 1, 0, 36, None], original)
    assert main([], root=tmp_path) == 1
    out = capsys.readouterr().out
    assert f"{'all':<34} {5:>8} {2:>8} {3:>6} {'40.0%':>7}" in out
    assert "not killed: 1 not checked, 1 survived, 1 timeout" in out
    assert "pragma: no mutate: 3 lines in these 1 modules" in out


def test_a_pragma_needs_its_reason_beside_it() -> None:
    source = textwrap.dedent(
        """
        a = 1  # pragma: no mutate - None reads the same
        # only tested for truth
        b = 2  # pragma: no mutate
        c = 3  # pragma: no mutate
        # pragma: no mutate start
        d = 4
        # pragma: no mutate end
        """
    )
    assert pragmas(source) == (5, [5, 6])


def test_the_gate_can_be_narrowed_to_modules_under_a_path(tmp_path: Path) -> None:
    results(tmp_path, [0])
    assert main(["pkg/"], root=tmp_path) == 1
    assert main(["other/"], root=tmp_path) == 2


def test_the_gate_reads_exit_codes_as_the_installed_mutmut_does() -> None:
    assert agrees_with_mutmut()
