"""Benchmarks of `stripe://` over real HTTP, against the Stripe-shaped loopback server
(tests/servers/stripe_shaped.py): the latency-bound pass, and adapting to a rate
limit with no configuration. Called by bench_bill.py."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stripe.conftest import API_KEY, Shaped, shaped_server  # noqa: E402

AS_OF = "2026-12-01"
MarkRow = tuple[str, str, str, bool]  # what, figure, target, ok


def _cli(args: list[str], provider: str | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one CLI run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTAEUS_")}
    env["NO_COLOR"] = "1"
    if provider:
        env["ANTAEUS_PROVIDER"] = provider
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "antaeus_cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{args} exited {code}")
    return elapsed, usage.ru_utime + usage.ru_stime, out


def _seeded(folder: Path, server: Shaped, invoices: int, name: str) -> Path:
    server.customers({f"cus_{n}": "pm_card_visa" for n in range(1, invoices + 1)})
    db = folder / name / "antaeus.db"
    db.parent.mkdir(parents=True)
    fixture = {
        "customers": [
            {"id": n, "currency": "EUR", "provider_ref": f"cus_{n}"} for n in range(1, invoices + 1)
        ],
        "invoices": [
            {"id": n, "customer_id": n, "amount": 1000, "currency": "EUR", "due_date": AS_OF}
            for n in range(1, invoices + 1)
        ],
    }
    path = db.with_name("fixture.json")
    path.write_text(json.dumps(fixture))
    _cli(["--db", str(db), "seed", "--from", str(path)])
    return db


def _floor_rate(charges: int) -> float:
    """Charges a second of benchmarks/http_floor.py against a fresh server like ours."""
    with shaped_server("--latency-ms", "50") as server:
        server.customers({f"cus_{n}": "pm_card_visa" for n in range(1, charges + 1)})
        floor = Path(__file__).with_name("http_floor.py")
        out = subprocess.run(
            [sys.executable, str(floor), server.base, API_KEY, str(charges), "64"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return float(out)


def _bill(db: Path, server: Shaped, *options: str) -> tuple[float, float, dict[str, object]]:
    wall, cpu, out = _cli(
        ["--db", str(db), "bill", "--as-of", AS_OF, "--json", *options], server.spec()
    )
    return wall, cpu, json.loads(out)


def bench_http_latency(folder: Path, runs: int, invoices: int) -> tuple[list[MarkRow], list[str]]:
    """50 ms a request, 64 charges in flight. A Stripe charge is two requests in turn
    (the customer's payment method, then the PaymentIntent), so its ceiling is
    64 / (2 x 50 ms) = 640 charges/s, half the sim's 1,280."""
    rates, cpus, floors = [], [], []
    for run in range(runs):
        with shaped_server("--latency-ms", "50") as server:
            db = _seeded(folder, server, invoices, f"http-latency-{run}")
            wall, cpu, result = _bill(db, server, "--concurrency", "64")
            paid = int(result["counts"]["paid"])  # type: ignore[index]
            if paid != invoices:
                raise RuntimeError(f"{invoices} invoices, {paid} paid: {result['counts']}")
            rates.append(invoices / wall)
            cpus.append(cpu / invoices)
        shutil.rmtree(db.parent)
        floors.append(_floor_rate(invoices))
    rate, cpu, floor = statistics.median(rates), statistics.median(cpus), statistics.median(floors)
    ceiling = 64 / (2 * 0.050)
    line = (
        f"  stripe:// latency-bound: {invoices:,} charges at 50 ms a request, 64 in flight: "
        f"{rate:,.0f}/s ({rate / ceiling:.0%} of {ceiling:,.0f}/s), "
        f"{cpu * 1000:.2f} ms CPU a charge; a bare urllib3 loop of the same requests: "
        f"{floor:,.0f}/s ({rate / floor:.0%})"
    )
    return [
        (
            "stripe:// latency-bound / bare urllib3 loop",
            f"{rate:,.0f}/s = {rate / floor:.0%} of {floor:,.0f}/s",
            ">= 90%",
            rate >= 0.9 * floor,
        ),
        (
            "stripe:// CPU a charge",
            f"{cpu * 1000:.2f} ms",
            "recorded",
            True,
        ),
    ], [line]


def bench_http_rate_limit(
    folder: Path, runs: int, invoices: int, limit: int
) -> tuple[list[MarkRow], list[str]]:
    """A server that allows `limit` requests a second and answers 429 above it; the
    pass has no --max-rate and must find the limit by itself."""
    achieved, rejected = [], []
    for run in range(runs):
        with shaped_server("--latency-ms", "20", "--limit-rps", str(limit)) as server:
            db = _seeded(folder, server, invoices, f"http-rate-{run}")
            _, _, result = _bill(db, server, "--concurrency", "16")
            stats = server.stats()
            paid = int(result["counts"]["paid"])  # type: ignore[index]
            not_processed = int(result["counts"]["not_processed"])  # type: ignore[index]
            if paid + not_processed != invoices:
                raise RuntimeError(f"{invoices} invoices: {result['counts']}")
            achieved.append((stats["admitted"] - 1) / stats["admitted_span_s"])
            rejected.append(stats.get("rate_limited", 0) / stats["requests"])
        shutil.rmtree(db.parent)
    rate, share = statistics.median(achieved), statistics.median(rejected)
    line = (
        f"  stripe:// adaptive rate: limit {limit}/s, {invoices:,} charges: "
        f"{rate:,.1f} requests/s admitted ({rate / limit:.0%}), {share:.2%} answered 429"
    )
    marks: list[MarkRow] = [
        (
            f"adaptive rate vs a {limit}/s limit: achieved",
            f"{rate:,.1f}/s = {rate / limit:.0%}",
            ">= 90% of the limit",
            rate >= 0.9 * limit,
        ),
        (
            f"adaptive rate vs a {limit}/s limit: rejected",
            f"{share:.2%} of requests",
            "<= 2%",
            share <= 0.02,
        ),
    ]
    return marks, [line]
