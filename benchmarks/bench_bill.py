"""End-to-end benchmarks of `antaeus`, each against a floor measured in the same run.

    python benchmarks/bench_bill.py                 # what `make bench` runs
    python benchmarks/bench_bill.py --quick         # a small smoke run

Every figure is the median of --runs runs (default 3) of the real CLI started as a
subprocess, on a fresh copy of the same seeded database each time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench_common import AS_OF, fresh_copy, seed_args
from bench_http import MarkRow, bench_http_latency, bench_http_rate_limit
from bench_notify import bench_notify

from antaeus_cli.store.migrations.v4 import TOTAL_TRIGGER_NAMES

OVERHEAD_SPEC = "sim://?latency_ms=0&ledger=:memory:"
# An instant at which no seeded invoice (due on AS_OF in its customer's zone) is due yet:
# noon UTC the day before, still 30 November from Los Angeles to Stockholm.
IDLE_AT = "2026-11-30T12:00:00Z"


@dataclass
class Mark:
    what: str
    figure: str
    target: str
    ok: bool

    def line(self) -> str:
        return f"  {'PASS' if self.ok else 'FAIL'}  {self.what:<44} {self.figure:<34} {self.target}"


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANTAEUS_")}
    return {**clean, "NO_COLOR": "1"}


def timed(args: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MB and stdout of one CLI run (wait4 gives the RSS of
    exactly this child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "antaeus_cli", *args],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    streams: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda name=name, pipe=pipe: streams.update({name: pipe.read()}))
        for name, pipe in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{args} exited {proc.returncode}: {streams['err'][-500:]}")
    return elapsed, int(usage.ru_maxrss / 1024), streams["out"]


def bill_args(db: Path, provider: str, *options: str) -> list[str]:
    """`antaeus bill` on `db` as of AS_OF, with JSON output."""
    return ["--db", str(db), "bill", "--as-of", AS_OF, "--json", *options, "--provider", provider]


def seed(folder: Path, invoices: int) -> tuple[Path, float]:
    db = folder / "template.db"
    seconds, _, _ = timed(seed_args(db, invoices))
    return db, seconds


def floor_seconds(db: Path) -> float:
    """One bulk UPDATE of every PENDING invoice: what SQLite allows at the very least.
    paid_at is set too, because the schema requires it of a PAID invoice."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "UPDATE invoice SET status = 'PAID', paid_at = ? WHERE status = 'PENDING'",
        (datetime.now(UTC).isoformat(),),
    )
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def insert_floor_seconds(template: Path, folder: Path) -> float:
    """Seed's floor: the seeded file's customer and invoice rows inserted by plain
    `executemany`, in one transaction, into an empty database of the same schema."""
    empty = folder / "floor-seed.db"
    for path in folder.glob("floor-seed.*"):  # the database, its WAL, its provider ledger
        path.unlink()
    timed(["--db", str(empty), "seed", "--customers", "0", "--as-of", AS_OF])
    source = sqlite3.connect(template)
    target = sqlite3.connect(empty, isolation_level=None)
    target.execute("PRAGMA synchronous = NORMAL")
    for trigger in TOTAL_TRIGGER_NAMES:  # seed drops them for its load too
        target.execute(f"DROP TRIGGER {trigger}")
    start = time.perf_counter()
    target.execute("BEGIN IMMEDIATE")
    for table in ("customer", "invoice"):
        rows = source.execute(f"SELECT * FROM {table} ORDER BY id")
        width = len(rows.description)
        target.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", rows)
    target.execute("COMMIT")
    seconds = time.perf_counter() - start
    source.close()
    target.close()
    return seconds


def median(runs: int, measure: Callable[[int], float]) -> float:
    return statistics.median(measure(i) for i in range(runs))


def bench_overhead(folder: Path, sizes: list[int], runs: int) -> tuple[list[Mark], list[str]]:
    marks: list[Mark] = []
    table = ["  invoices   seed s   bill s   inv/s      floor s   ratio   peak RSS   report s"]
    rss_by_size: dict[int, float] = {}
    for size in sizes:
        seeds, inserts = [], []
        for _ in range(runs):  # the last seeded file is the template for the bill runs
            for path in folder.glob("template*"):
                path.unlink()
            template, seconds = seed(folder, size)
            seeds.append(seconds)
            inserts.append(insert_floor_seconds(template, folder))
        seed_s, insert_s = statistics.median(seeds), statistics.median(inserts)
        bills, rsss, floors, reports, idle, idle_reports = [], [], [], [], [], []
        for run in range(runs):
            db = fresh_copy(template, folder, f"run-{size}-{run}")
            if size >= 1_000_000:  # an hourly pass with nothing due yet, and report, same file
                idle.append(timed(bill_args(db, OVERHEAD_SPEC, "--as-of", IDLE_AT))[0])
                idle_reports.append(timed(["--db", str(db), "report", "--format", "json"])[0])
            os.sync()  # neither the pass nor its floor pays for the other's writes
            seconds, rss, out = timed(bill_args(db, OVERHEAD_SPEC))
            counts = json.loads(out)["counts"]
            settled = counts["paid"] + counts["declined"] + counts["needs_operator"]
            if settled != size:
                raise RuntimeError(f"{size} invoices, but {settled} settled: {counts}")
            bills.append(seconds)
            rsss.append(rss)
            reports.append(timed(["--db", str(db), "report", "--format", "json"])[0])
            floor_db = fresh_copy(template, folder, f"floor-{size}-{run}")
            os.sync()
            floors.append(floor_seconds(floor_db))
            shutil.rmtree(db.parent)
            shutil.rmtree(folder / f"floor-{size}-{run}")
        bill_s, floor_s = statistics.median(bills), statistics.median(floors)
        # Each run's pass against the floor measured right after it, so that a drift of
        # the machine's speed between runs moves both: the median of those ratios.
        ratios = [bill / floor for bill, floor in zip(bills, floors, strict=True)]
        ratio = statistics.median(ratios)
        rss_by_size[size] = statistics.median(rsss)
        report_s = statistics.median(reports)
        table.append(
            f"  {size:>8,}   {seed_s:6.2f}   {bill_s:6.2f}   {size / bill_s:>8,.0f}   "
            f"{floor_s:7.3f}   {ratio:5.1f}x   {rss_by_size[size]:5.0f} MB   "
            f"{report_s:6.3f}"
        )
        if size >= 1_000_000:
            table.append(
                "  the ratio is the median of each run's: "
                + ", ".join(
                    f"{bill:.2f} s / {floor:.3f} s = {bill / floor:.1f}x"
                    for bill, floor in zip(bills, floors, strict=True)
                )
            )
            idle_s, idle_report_s = statistics.median(idle), statistics.median(idle_reports)
            table.append(
                f"  an hourly pass at {IDLE_AT} over {size:,} invoices, none due yet: "
                f"{idle_s:.2f} s; report on the same file: {idle_report_s:.2f} s "
                f"({idle_s / idle_report_s:.2f}x)"
            )
            marks.append(
                Mark(
                    "hourly pass, 1M, none due / report",
                    f"{idle_s / idle_report_s:.2f}x",
                    "<= 1x",
                    idle_s <= idle_report_s,
                )
            )
            table.append(
                f"  seed of {size:,}: {seed_s:.1f} s; a raw executemany of the same rows: "
                f"{insert_s:.1f} s ({seed_s / insert_s:.1f}x)"
            )
            marks += [
                Mark("ours / bulk-UPDATE floor", f"{ratio:.1f}x", "<= 12x", ratio <= 12),
                Mark(
                    "peak RSS at 1M",
                    f"{rss_by_size[size]:.0f} MB",
                    "<= 150 MB",
                    rss_by_size[size] <= 150,
                ),
                Mark("report on 1M invoices", f"{report_s:.2f} s", "<= 1 s", report_s <= 1),
                Mark(
                    "seed of 1M / raw executemany of its rows",
                    f"{seed_s / insert_s:.1f}x",
                    "<= 2x",
                    seed_s / insert_s <= 2,
                ),
            ]
            if 100_000 in rss_by_size:
                growth = rss_by_size[size] / rss_by_size[100_000] - 1
                marks.append(
                    Mark("peak RSS 1M vs 100k", f"{growth:+.0%}", "within 10%", abs(growth) <= 0.10)
                )
        for path in folder.glob("template*"):
            path.unlink()
    return marks, table


def bench_latency(folder: Path, runs: int, invoices: int) -> tuple[list[Mark], list[str]]:
    template, _ = seed(folder, invoices)
    ideal = 64 / 0.050

    def one(run: int) -> float:
        db = fresh_copy(template, folder, f"latency-{run}")
        seconds, _, _ = timed(
            bill_args(db, "sim://?latency_ms=50&ledger=:memory:", "--concurrency", "64")
        )
        shutil.rmtree(db.parent)
        return invoices / seconds

    rate = median(runs, one)
    for path in folder.glob("template*"):
        path.unlink()
    line = f"  latency-bound: {invoices:,} invoices at 50 ms, 64 in flight: {rate:,.0f}/s"
    return [
        Mark(
            "latency-bound bill (50 ms, 64 in flight)",
            f"{rate:,.0f}/s = {rate / ideal:.0%}",
            ">= 90% of 1,280/s",
            rate >= 0.9 * ideal,
        )
    ], [line]


def bench_rate_limit(
    folder: Path, runs: int, invoices: int, limit: int
) -> tuple[list[Mark], list[str]]:
    template, _ = seed(folder, invoices)

    def one(run: int) -> tuple[float, int]:
        db = fresh_copy(template, folder, f"rate-{run}")
        timed(
            bill_args(db, "sim://?latency_ms=20", "--concurrency", "64", "--max-rate", str(limit))
        )
        with sqlite3.connect(db.with_name("antaeus.provider.db")) as conn:
            stamps = sorted(
                datetime.fromisoformat(r[0]).timestamp()
                for r in conn.execute("SELECT created_at FROM charge")
            )
        shutil.rmtree(db.parent)
        achieved = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        return achieved, _worst_second(stamps)

    results = [one(run) for run in range(runs)]
    for path in folder.glob("template*"):
        path.unlink()
    achieved = statistics.median(r[0] for r in results)
    burst = max(r[1] for r in results)
    return [
        Mark(
            f"--max-rate {limit}: achieved rate",
            f"{achieved:,.1f}/s ({achieved / limit - 1:+.1%})",
            "within 5% of the limit",
            abs(achieved / limit - 1) <= 0.05,
        ),
        Mark(
            f"--max-rate {limit}: busiest second",
            f"{burst} requests",
            f"<= {limit} + 64 (one window)",
            burst <= limit + 64,
        ),
    ], [f"  rate limit {limit}/s: achieved {achieved:,.1f}/s, busiest second {burst}"]


def _worst_second(stamps: list[float]) -> int:
    worst, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 1.0:
            start += 1
        worst = max(worst, end - start + 1)
    return worst


def bench_startup(folder: Path, runs: int) -> tuple[list[Mark], list[str]]:
    """`antaeus --help` and a no-op `bill` against a bare `import typer`, and the no-op
    `bill` against a bare Typer command with the same options, interleaved."""
    db = folder / "startup" / "antaeus.db"
    db.parent.mkdir()
    timed(["--db", str(db), "seed", "--customers", "100", "--seed", "1", "--as-of", AS_OF])
    timed(bill_args(db, OVERHEAD_SPEC))  # charges all; what follows finds nothing due
    noop = ["-m", "antaeus_cli", *bill_args(db, OVERHEAD_SPEC)]
    typer_floor = str(Path(__file__).with_name("typer_floor.py"))

    def started(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env(), capture_output=True, check=True)
        return time.perf_counter() - start

    helps, noops, bare, floors = [], [], [], []
    for _ in range(max(runs, 9)):
        helps.append(started(["-m", "antaeus_cli", "--help"]))
        noops.append(started(noop))
        bare.append(started(["-c", "import typer"]))
        floors.append(started([typer_floor, "--db", str(db), "bill", "--as-of", AS_OF, "--json"]))
    help_s, noop_s = statistics.median(helps), statistics.median(noops)
    bare_s, floor_s = statistics.median(bare), statistics.median(floors)
    return [
        Mark(
            "start-up: antaeus --help / import typer",
            f"{help_s / bare_s:.1f}x",
            "<= 2x",
            help_s / bare_s <= 2,
        ),
        Mark(
            "no-op bill / bare Typer command, same options",
            f"{noop_s / floor_s:.1f}x",
            "<= 2x",
            noop_s / floor_s <= 2,
        ),
    ], [
        f"  start-up, medians of {len(helps)} interleaved runs: --help {help_s * 1000:.0f} ms, "
        f"a no-op bill {noop_s * 1000:.0f} ms; a bare `import typer` {bare_s * 1000:.0f} ms "
        f"(--help {help_s / bare_s:.1f}x, no-op bill {noop_s / bare_s:.1f}x); a bare Typer "
        f"command with bill's options {floor_s * 1000:.0f} ms (no-op bill {noop_s / floor_s:.1f}x)"
    ]


def _marks(found: tuple[list[MarkRow], list[str]]) -> tuple[list[Mark], list[str]]:
    rows, lines = found
    return [Mark(*row) for row in rows], lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    parser.add_argument(
        "--notices",
        type=int,
        default=30_000,
        help="pending notices for the notify mark (100,000 takes about 9 minutes a run)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs, latency_n, rate_n, limit = args.runs, 20_000, 3_000, 500
    http_latency_n, http_rate_n, http_limit = 12_000, 3_000, 100
    notices = args.notices
    if args.quick:
        sizes, runs, latency_n, rate_n, limit = [2_000], 1, 500, 300, 200
        http_latency_n, http_rate_n, notices = 300, 200, 150
    folder = Path(tempfile.mkdtemp(prefix="antaeus-bench-"))
    try:
        marks: list[Mark] = []
        sys.stdout.write(f"antaeus benchmark: medians of {runs} run(s), {os.cpu_count()} cores\n")
        for bench in (
            lambda: bench_overhead(folder, sizes, runs),
            lambda: bench_latency(folder, runs, latency_n),
            lambda: bench_rate_limit(folder, runs, rate_n, limit),
            lambda: _marks(bench_http_latency(folder, runs, http_latency_n)),
            lambda: _marks(bench_http_rate_limit(folder, runs, http_rate_n, http_limit)),
            lambda: bench_startup(folder, runs),
            lambda: _marks(bench_notify(folder, runs, notices)),
        ):
            got_marks, got_lines = bench()
            marks += got_marks
            sys.stdout.write("\n".join(got_lines) + "\n")
            sys.stdout.flush()
        sys.stdout.write("pass marks:\n" + "\n".join(m.line() for m in marks) + "\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(m.ok for m in marks) or args.quick else 1


if __name__ == "__main__":
    raise SystemExit(main())
