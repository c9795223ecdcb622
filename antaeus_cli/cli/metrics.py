"""`--metrics-file`: findings and counts as Prometheus metrics, in the textfile
collector's format, written atomically (`prometheus_client.write_to_textfile`
writes a temporary file beside the target and renames it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from antaeus_cli.errors import InputError, StorageError
from antaeus_cli.sqlite_files import side_file

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from antaeus_cli.billing.results import PassResult
    from antaeus_cli.domain.health import Level
    from antaeus_cli.health import Health
    from antaeus_cli.notify.results import NotifyResult


def write_health(path: Path, health: Health) -> None:
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    _level(registry, health.level)
    _facts(registry, health)
    findings = Gauge(
        "antaeus_check_finding_level",
        "Each finding of the check, by name: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        ["check"],
        registry=registry,
    )
    for finding in health.findings:
        findings.labels(check=finding.check).set(int(finding.level))
    _write(path, registry)


def write_pass(
    path: Path,
    command: str,
    result: PassResult | None,
    seconds: float,
    health: Health,
) -> None:
    """A pass's metrics: how it ended, how long it took, its counts and amounts by
    outcome and currency (none for a pass refused before it began), and billing's
    health after it (the last completed bill pass, open attempts, the outbox)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    status = "failed" if result is None else result.status.value
    Gauge(
        "antaeus_pass_completed",
        "1 when the pass completed; 0 when it stopped early, failed or was refused.",
        ["command", "status"],
        registry=registry,
    ).labels(command=command, status=status).set(1 if status == "completed" else 0)
    Gauge(
        "antaeus_pass_duration_seconds", "How long the pass took.", ["command"],
        registry=registry,
    ).labels(command=command).set(seconds)  # fmt: skip
    Gauge(
        "antaeus_pass_finished_timestamp_seconds", "When the pass ended.", ["command"],
        registry=registry,
    ).labels(command=command).set_to_current_time()  # fmt: skip
    counts = Gauge(
        "antaeus_pass_count",
        "The pass's counts (billing_run's columns): invoices by what became of them, and retries.",
        ["command", "outcome"],
        registry=registry,
    )
    amounts = Gauge(
        "antaeus_pass_amount_minor",
        "Amounts of the pass in minor units, by outcome and currency (never summed across).",
        ["command", "outcome", "currency"],
        registry=registry,
    )
    if result is not None:
        for outcome, n in result.counts.as_columns().items():
            counts.labels(command=command, outcome=outcome).set(n)
        for outcome, totals in (("paid", result.paid), ("declined", result.declined)):
            for total in totals:
                amounts.labels(command=command, outcome=outcome, currency=total.currency).set(
                    total.minor
                )
    _facts(registry, health)
    _write(path, registry)


def write_notify(path: Path, result: NotifyResult, seconds: float, health: Health) -> None:
    """A notify run's metrics: what it delivered, deferred and failed, how long it took,
    and the outbox and billing's health after it."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    Gauge(
        "antaeus_notify_completed",
        "1 when the run delivered all it could; 0 when it stopped early.",
        registry=registry,
    ).set(1 if result.stop_reason is None else 0)
    Gauge("antaeus_notify_duration_seconds", "How long the run took.", registry=registry).set(
        seconds
    )
    Gauge(
        "antaeus_notify_finished_timestamp_seconds", "When the run ended.", registry=registry
    ).set_to_current_time()
    notices = Gauge(
        "antaeus_notify_notices", "Notices of the run by what became of them.", ["outcome"],
        registry=registry,
    )  # fmt: skip
    for outcome in ("sent", "failed", "skipped", "deferred"):
        notices.labels(outcome=outcome).set(getattr(result, outcome))
    _facts(registry, health)
    _write(path, registry)


def _facts(registry: CollectorRegistry, health: Health) -> None:
    from prometheus_client import Gauge

    facts = health.facts
    last = facts.last_bill_completed
    Gauge(
        "antaeus_last_bill_completed_timestamp_seconds",
        "When the last completed bill pass finished (0: never).",
        registry=registry,
    ).set(0 if last is None else last.timestamp())
    for name, help_text, value in (
        ("antaeus_overdue_attempts", "Charges open too long, which may have moved money.",
         facts.overdue_attempts),
        ("antaeus_open_attempts", "Charges sent and not yet settled.", facts.open_attempts),
        ("antaeus_invoices_needing_operator", "Invoices held for an operator.",
         facts.needs_operator),
        ("antaeus_notices_failed", "Notices that failed for good.", facts.notices_failed),
        ("antaeus_notices_pending", "Notices waiting to go.", facts.notices_pending),
    ):  # fmt: skip
        Gauge(name, help_text, registry=registry).set(value)


def write_failure(path: Path, level: Level) -> None:
    """The check's level alone, when the database could not be read."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    _level(registry, level)
    _write(path, registry)


def _level(registry: CollectorRegistry, level: Level) -> None:
    from prometheus_client import Gauge

    Gauge(
        "antaeus_check_status",
        "The check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        registry=registry,
    ).set(int(level))


# How every file this module writes begins: a file that does not is never replaced.
_OURS = b"# HELP antaeus_"
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def check_target(path: Path, db_path: Path | None = None) -> None:
    """Refuse, before a command does anything, a --metrics-file that cannot be one: in
    a directory that does not exist; naming something other than a regular file (a
    directory; a device such as /dev/null or a pipe, which the rename would replace);
    the database or one of its side files; or a file that holds anything but metrics
    this command wrote (an empty file, made beforehand for its owner, is fine)."""
    if not path.parent.is_dir():
        raise InputError(f"directory '{path.parent}' for --metrics-file does not exist")
    if db_path is not None and _is_the_database(path, db_path):
        raise InputError(
            f"--metrics-file '{path}' is the database or one of its files: name a file of "
            "its own, such as /var/lib/node_exporter/textfile/antaeus.prom"
        )
    try:
        mode = path.stat().st_mode
        if stat.S_ISREG(mode):
            with path.open("rb") as existing:
                head = existing.read(len(_OURS))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot use '{path}' as --metrics-file: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InputError(
            f"'{path}' is not a regular file: --metrics-file replaces its file on every run, "
            "so it takes the path of a file (or of none yet)"
        )
    if head and head != _OURS:
        raise InputError(
            f"'{path}' holds something other than antaeus' metrics: --metrics-file replaces "
            "its file on every run, so it never takes one that holds anything else"
        )


def _is_the_database(path: Path, db_path: Path) -> bool:
    target = os.path.realpath(path)
    for side in _SIDE_FILES:
        database = os.path.realpath(side_file(db_path, side))
        if target == database:
            return True
        try:
            if os.path.samefile(path, database):  # another name of the same file
                return True
        except OSError:  # one of them does not exist
            continue
    return False


def _write(path: Path, registry: CollectorRegistry) -> None:
    from prometheus_client import write_to_textfile

    check_target(path)
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise StorageError(f"cannot write --metrics-file '{path}': {exc.strerror or exc}") from None
