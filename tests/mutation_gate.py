"""The score of the last `mutmut run`, per module; fails while any mutant survives.

    python -m tests.mutation_gate          # what `make mutants` runs after mutmut

A mutant is killed when a test fails (or times out) with it in place. One that
survives, or that no test reaches, is a promise no test holds: `make mutants` fails
until a test holds it, or the code that only it could break is marked with
`# pragma: no mutate` and a written reason that the change is equivalent.

One class of survivors is recognised here as equivalent, by a rule rather than by a
pragma on every SQL line: a mutant that only changes the case of a SQL statement's
keywords and names. SQLite reads those without regard to case; the rule checks that
the change lies inside Python string literals of a SQL statement (the line, or the
lines around it, hold a SQL keyword), that the code around the strings is unchanged,
that every quoted SQL literal and every named parameter, which are case-sensitive, is
as it was, and that the line names no column alias (`AS name`), which a row read by
name would see.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

_LITERALS = re.compile(r"'[^']*'|:[A-Za-z_][A-Za-z_0-9]*")
_SQL = re.compile(
    r"\b(SELECT|UPDATE|INSERT|DELETE|WHERE|VALUES|ORDER BY|RETURNING|FROM|JOIN|INTO)\b", re.I
)
_PY_STRING = re.compile(r'f?"(?:[^"\\]|\\.)*"')
_ALIAS = re.compile(r"\bAS\s+(?!(?:NOT\s+)?MATERIALIZED\b)[A-Za-z_]", re.I)

KILLED = frozenset({"killed", "timeout"})
UNHELD = frozenset({"survived", "no tests", "not checked", "suspicious"})


def main() -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    listed = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    unheld = []
    for line in listed.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep:
            continue
        if status == "survived" and _sql_case_only(mutmut, name):
            status = "equivalent"
        module = name.split(".x", 1)[0]
        by_module[module][status] += 1
        if status in UNHELD:
            unheld.append(f"  {status}: {name}")
    if not by_module:
        print("no mutation results: run 'mutmut run' first", file=sys.stderr)
        return 2
    total = Counter[str]()
    print(f"{'module':<34} {'mutants':>8} {'killed':>8} {'equivalent':>11} {'score':>7}")
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(_line(module, counts))
    print(_line("all", total))
    if unheld:
        print(f"\n{len(unheld)} mutants no test kills:", *unheld, sep="\n")
        return 1
    return 0


def _sql_case_only(mutmut: Path, name: str) -> bool:
    """Whether the mutant only changes the case of SQL keywords and names."""
    shown = subprocess.run(
        [str(mutmut), "show", name], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    removed = [line[1:] for line in shown if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in shown if line.startswith("+") and not line.startswith("+++")]
    context = [line[1:] for line in shown if line.startswith(" ")]
    if not removed or len(removed) != len(added):
        return False
    in_sql = any(_SQL.search(line) for line in [*removed, *context])
    for old, new in zip(removed, added, strict=True):
        if old.lower() != new.lower() or _LITERALS.findall(old) != _LITERALS.findall(new):
            return False
        if not in_sql or _ALIAS.search(old) or not _PY_STRING.search(old):
            return False
        if _PY_STRING.sub('""', old) != _PY_STRING.sub('""', new):
            return False  # the change reaches code outside the strings
    return True


def _line(module: str, counts: Counter[str]) -> str:
    mutants = sum(n for status, n in counts.items() if status != "skipped")
    killed = sum(counts[status] for status in KILLED)
    equivalent = counts["equivalent"]
    score = f"{100 * killed / (mutants - equivalent):.1f}%" if mutants > equivalent else "-"
    return f"{module:<34} {mutants:>8} {killed:>8} {equivalent:>11} {score:>7}"


if __name__ == "__main__":
    sys.exit(main())
