"""The score of the last `mutmut run`, per module; fails while any mutant survives.

    python -m tests.mutation_gate          # what `make mutants` runs after mutmut

A mutant is killed when a test fails (or times out) with it in place. One that
survives, or that no test reaches, is a promise no test holds: `make mutants` fails
until a test holds it, or the code that only it could break is marked with
`# pragma: no mutate` and a written reason that the change is equivalent.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

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
        module = name.split(".x", 1)[0]
        by_module[module][status] += 1
        if status in UNHELD:
            unheld.append(f"  {status}: {name}")
    if not by_module:
        print("no mutation results: run 'mutmut run' first", file=sys.stderr)
        return 2
    total = Counter[str]()
    print(f"{'module':<34} {'mutants':>8} {'killed':>8} {'score':>7}")
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(_line(module, counts))
    print(_line("all", total))
    if unheld:
        print(f"\n{len(unheld)} mutants no test kills:", *unheld, sep="\n")
        return 1
    return 0


def _line(module: str, counts: Counter[str]) -> str:
    mutants = sum(n for status, n in counts.items() if status != "skipped")
    killed = sum(counts[status] for status in KILLED)
    score = f"{100 * killed / mutants:.1f}%" if mutants else "-"
    return f"{module:<34} {mutants:>8} {killed:>8} {score:>7}"


if __name__ == "__main__":
    sys.exit(main())
