"""Every JSON document the CLI prints carries `schema_version` and validates against the
JSON Schema published in antaeus_cli/schemas/: real outputs, from real passes."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.json_out import JSON_SCHEMA_VERSION
from antaeus_cli.cli.report import Section

AS_OF = ("--as-of", "2026-12-01")
SIM = (
    "--backoff-ms",
    "0",
    "--provider",
    "sim://?seed=1&network_error_rate=0.2&hard_decline_rate=0.1",
)


def schema(name: str) -> dict[str, Any]:
    text = resources.files("antaeus_cli").joinpath(f"schemas/{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def output(db: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    assert result.exit_code in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def valid(name: str, document: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema(name), format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    assert document["schema_version"] == JSON_SCHEMA_VERSION


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ANTAEUS_DB", "ANTAEUS_PROVIDER", "ANTAEUS_DUNNING", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "antaeus.db"
    valid("seed", output(path, "seed", "--seed", "1", "--json", *AS_OF))
    return path


@pytest.mark.parametrize(
    "name",
    ["pass", "preview", "report", "seed", "notify", "notify-preview", "void", "requeue-notices"],
)
def test_the_published_schemas_are_schemas(name: str) -> None:
    Draft202012Validator.check_schema(schema(name))


def test_every_json_output_follows_its_schema(db: Path) -> None:
    valid("preview", output(db, "bill", "--dry-run", "--json", *AS_OF, *SIM))
    first = output(db, "bill", "--json", *AS_OF, *SIM)
    valid("pass", first)
    assert first["counts"]["paid"] > 0
    valid("pass", output(db, "retry-failed", "--json", "--as-of", "2026-12-05", *SIM))
    valid(
        "preview", output(db, "retry-failed", "--dry-run", "--json", "--as-of", "2026-12-20", *SIM)
    )
    whole = output(db, "report", "--format", "json")
    valid("report", whole)
    for filled in ("needs-operator", "declines", "runs", "totals", "collected"):
        assert whole[filled], filled
    for section in Section:
        part = output(db, "report", "--format", "json", "--section", section.value)
        valid("report", part)
        assert section.value in part


def test_notify_json_follows_its_schema(db: Path, tmp_path: Path) -> None:
    output(db, "bill", "--json", *AS_OF, *SIM)
    spec = f"maildir://{tmp_path}/mail?from=billing@example.com&operator=ops@example.com"
    preview = output(db, "notify", "--notify", spec, "--dry-run", "--json")
    valid("notify-preview", preview)
    assert preview["due"] > 0
    sent = output(db, "notify", "--notify", spec, "--json")
    valid("notify", sent)
    assert sent["sent"] > 0


def test_a_schema_rejects_what_it_does_not_describe(db: Path) -> None:
    """The schemas are strict enough to fail: a renamed field breaks validation."""
    document = output(db, "bill", "--json", *AS_OF, *SIM)
    document["paid_totals"] = document.pop("paid")
    validator = Draft202012Validator(schema("pass"))
    assert not validator.is_valid(document)


def test_an_overdue_attempt_follows_the_schemas(db: Path) -> None:
    """Passes whose every request is lost leave attempts open; once enough passes have
    looked them up in vain and they are old enough, the pass and the report list them."""
    from tests.process.helpers import age_attempts

    down = ("--backoff-ms", "0", "--provider", "sim://?seed=1&network_error_rate=1")

    def lost_pass() -> dict[str, Any]:
        result = CliRunner().invoke(app, ["--db", str(db), "bill", "--json", *AS_OF, *down])
        assert result.exit_code == 3, result.stderr  # an outage: every request lost
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    for _ in range(4):  # the charges, then three passes whose look-ups are all lost
        assert lost_pass()["overdue_total"] == 0
    age_attempts(db, 7)
    late = lost_pass()
    valid("pass", late)
    assert late["overdue_total"] == len(late["overdue_attempts"]) > 0
    whole = output(db, "report", "--format", "json")
    valid("report", whole)
    assert whole["overdue-attempts"] == late["overdue_attempts"]
    part = output(db, "report", "--format", "json", "--section", "overdue-attempts")
    valid("report", part)
    assert part["overdue_total"] == late["overdue_total"]
