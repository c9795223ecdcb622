"""The figure of the last `mutmut run`, per module; fails unless every mutant is killed.

    python -m tests.mutation_gate                       # what `make mutants` runs
    python -m tests.mutation_gate antaeus_cli/domain/   # only the modules under a path

It reads what mutmut 3 records, `mutants/<module>.meta` for every module in `[tool.mutmut]
only_mutate` (pyproject.toml): the exit code of each mutant's test run, which mutmut turns
into a status by the table below (its own, from mutmut/stats.py; the gate refuses to judge
when the installed mutmut's differs). Only `killed` passes.
Every other status fails the gate: a survivor, a timeout (the test run was stopped, not
failed: a mutant that hangs is a finding to look at, not a kill), a segfault, a mutant
caught by the type checker rather than a test, an interrupted run, a mutant not checked
or reached by no test, a suspicious or skipped one, and any exit code mutmut does not know.

A survivor passes in one way only: code that no test can tell from its mutants is marked
`# pragma: no mutate` beside it, with its reason (on the line, after the pragma, or in the
comment line just above); mutmut then makes no mutant of it, and the gate fails on a mark
without a reason. No rule excuses a class of survivors. The figure counts the pragma lines
in the mutated modules.
"""

from __future__ import annotations

import io
import json
import sys
import tokenize
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# mutmut 3.8's reading of a mutant's exit code (mutmut/stats.py, `status_by_exit_code`).
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed",
    3: "killed",  # an internal error of pytest, which mutmut counts as a kill
    0: "survived",
    5: "no tests",
    2: "check was interrupted by user",
    None: "not checked",
    33: "no tests",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",  # SIGXCPU
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}
UNKNOWN_CODE = "suspicious"  # mutmut's reading of an exit code not in its table
KILLED = "killed"
PRAGMA = "no mutate"


def status_of(exit_code: int | None) -> str:
    return STATUS_BY_EXIT_CODE.get(exit_code, UNKNOWN_CODE)


def agrees_with_mutmut() -> bool:
    """Whether the installed mutmut reads exit codes as the table above does (True when
    mutmut is not installed: the table is then all there is)."""
    try:
        from mutmut.stats import status_by_exit_code
    except ImportError:
        return True
    return (
        dict(status_by_exit_code) == STATUS_BY_EXIT_CODE
        and status_by_exit_code.default_factory() == UNKNOWN_CODE
    )


@dataclass
class Module:
    """One mutated module's results."""

    path: str
    statuses: Counter[str] = field(default_factory=Counter)
    failing: list[tuple[str, str]] = field(default_factory=list)  # (mutant, status)
    pragma_lines: int = 0
    unreasoned: list[int] = field(default_factory=list)  # pragma lines without a reason
    missing: bool = False  # no results for it: mutmut never ran over it

    @property
    def name(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    @property
    def passes(self) -> bool:
        return not (self.failing or self.unreasoned or self.missing)


def judge(root: Path, path: str) -> Module:
    """The results of one module of `only_mutate`, read from `root/mutants`."""
    module = Module(path)
    source = root / path
    if source.exists():
        module.pragma_lines, module.unreasoned = pragmas(source.read_text(encoding="utf-8"))
    meta = root / "mutants" / f"{path}.meta"
    if not meta.exists():
        module.missing = True
        return module
    exit_codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))[
        "exit_code_by_key"
    ]
    for mutant, exit_code in sorted(exit_codes.items(), key=lambda item: _order(item[0])):
        status = status_of(exit_code)
        module.statuses[status] += 1
        if status != KILLED:
            module.failing.append((mutant, status))
    return module


def _order(mutant: str) -> tuple[str, int]:
    """Mutants in the order of their functions, then of their numbers."""
    function, _, number = mutant.rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


def pragmas(source: str) -> tuple[int, list[int]]:
    """How many comment lines hold `pragma: no mutate`, and those among them with no
    reason: none after the pragma, and no comment line just above it. The `end` of a
    marked block needs none; its `start` does."""
    lines = source.splitlines()
    count, unreasoned = 0, []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or "pragma:" not in token.string:
            continue
        _, found, tail = token.string.partition(PRAGMA)
        if not found:
            continue
        count += 1
        words = tail.strip(" :-,").split(maxsplit=1)
        if words and words[0] in ("start", "end", "block"):
            if words[0] == "end":
                continue
            words = words[1:]
        reason = bool(words and words[0].strip(" :-,"))
        row = token.start[0]
        above = lines[row - 2].strip() if row >= 2 else ""
        if not reason and not (above.startswith("#") and PRAGMA not in above):
            unreasoned.append(row)
    return count, unreasoned


def only_mutate(root: Path) -> list[str]:
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def report(modules: Sequence[Module], out: io.TextIOBase | None = None) -> int:
    """Print the figure; 0 when every mutant is killed, else 1."""
    write = (out or sys.stdout).write
    total = Counter[str]()
    write(f"{'module':<34} {'mutants':>8} {'killed':>8} {'other':>6} {'score':>7}\n")
    for module in modules:
        total.update(module.statuses)
        write(_line(module.name + (" (no results)" if module.missing else ""), module.statuses))
    write(_line("all", total))
    others = {status: n for status, n in sorted(total.items()) if status != KILLED}
    pragma_lines = sum(module.pragma_lines for module in modules)
    write(
        f"\nnot killed: {', '.join(f'{n} {status}' for status, n in others.items()) or 'none'}\n"
        f"pragma: no mutate: {pragma_lines} lines in these {len(modules)} modules\n"
    )
    failing = [
        *(f"  no results: {m.path}: run mutmut first" for m in modules if m.missing),
        *(f"  {status}: {name}" for m in modules for name, status in m.failing),
        *(f"  pragma without a reason: {m.path}:{row}" for m in modules for row in m.unreasoned),
    ]
    if failing:
        write(f"\n{len(failing)} findings fail the gate:\n" + "\n".join(failing) + "\n")
        return 1
    return 0


def _line(label: str, counts: Counter[str]) -> str:
    mutants = sum(counts.values())
    killed = counts[KILLED]
    score = f"{100 * killed / mutants:.1f}%" if mutants else "-"
    return f"{label:<34} {mutants:>8} {killed:>8} {mutants - killed:>6} {score:>7}\n"


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    root = root or Path.cwd()
    prefixes = list(sys.argv[1:] if argv is None else argv)
    paths = [
        path
        for path in only_mutate(root)
        if not prefixes or any(path.startswith(prefix) for prefix in prefixes)
    ]
    if not paths:
        print(f"no module of only_mutate is under {' '.join(prefixes)}", file=sys.stderr)
        return 2
    if not agrees_with_mutmut():
        print("mutmut reads exit codes otherwise: update STATUS_BY_EXIT_CODE", file=sys.stderr)
        return 2
    return report([judge(root, path) for path in sorted(paths)])


if __name__ == "__main__":
    sys.exit(main())
