"""`--metrics-file`: findings and counts as Prometheus metrics, in the textfile
collector's format, written atomically (`prometheus_client.write_to_textfile`
writes a temporary file beside the target and renames it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from antaeus_cli.errors import InputError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from antaeus_cli.domain.health import Level
    from antaeus_cli.health import Health


def write_health(path: Path, health: Health) -> None:
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    facts = health.facts
    _level(registry, health.level)
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
    findings = Gauge(
        "antaeus_check_finding_level",
        "Each finding of the check, by name: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        ["check"],
        registry=registry,
    )
    for finding in health.findings:
        findings.labels(check=finding.check).set(int(finding.level))
    _write(path, registry)


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


def _write(path: Path, registry: CollectorRegistry) -> None:
    from prometheus_client import write_to_textfile

    if not path.parent.is_dir():
        raise InputError(f"directory '{path.parent}' for --metrics-file does not exist")
    write_to_textfile(str(path), registry)
