"""The README and docs/ stay true: commands, options, exit codes and statuses all
documented, and every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from antaeus_cli.billing.results import RunStatus
from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.domain.invoice import AttemptOutcome, InvoiceStatus
from antaeus_cli.domain.notices import NoticeKind, NoticeStatus

ROOT = Path(__file__).resolve().parents[2]
# The front door and the pages behind it, read as one: what is documented anywhere.
README = "\n".join(
    page.read_text() for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)
COMMAND = typer.main.get_command(app)


def test_every_exit_code_is_in_the_readme_table() -> None:
    rows = dict(re.findall(r"^\| (\d+) \| `([A-Z_]+)` \|", README, flags=re.MULTILINE))
    assert rows == {str(code.value): code.name for code in ExitCode}


def _commands() -> dict[str, typer.core.TyperCommand]:
    """Every command by its full name, the subcommands of a group (`import
    customers`) as well as the group."""
    found = {}
    for name, command in COMMAND.commands.items():  # type: ignore[attr-defined]
        found[name] = command
        for sub, subcommand in getattr(command, "commands", {}).items():
            found[f"{name} {sub}"] = subcommand
    return found


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_and_option_is_documented(name: str) -> None:
    assert f"`antaeus {name}" in README
    command = _commands()[name]
    assert command.help, name
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert f"`{opt}" in README, f"{name} {opt} is not in the README"


@pytest.mark.parametrize(
    "value",
    [
        *(s.value for s in InvoiceStatus),
        *(o.value for o in AttemptOutcome),
        *(r.value for r in RunStatus),
        *(k.value for k in NoticeKind),
        *(n.value for n in NoticeStatus),
    ],
)
def test_every_status_and_outcome_is_explained(value: str) -> None:
    assert f"`{value}`" in README


@pytest.mark.parametrize(
    "table",
    [
        "invoice",
        "payment_attempt",
        "billing_run",
        "customer",
        "pass_lock",
        "meta",
        "account",
        "charge",
        "notification",
    ],
)
def test_every_table_is_described(table: str) -> None:
    assert f"`{table}" in README


def test_every_relative_link_in_the_docs_resolves() -> None:
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs").glob("**/*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(root)} -> {target}")
    assert broken == []


def test_the_changelog_names_this_release_and_the_schema_it_writes() -> None:
    from antaeus_cli import __version__
    from antaeus_cli.store.schema import SCHEMA_VERSION

    text = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\S+) .*schema version (\d+)$", text, flags=re.MULTILINE)
    assert first is not None
    assert (first.group(1), int(first.group(2))) == (__version__, SCHEMA_VERSION)


def test_the_cli_reference_is_the_cli_s_own_help() -> None:
    from tests.tools.cli_reference import reference

    written = (ROOT / "docs" / "cli-reference.md").read_text()
    assert written == reference(), (
        "docs/cli-reference.md drifted from the CLI: "
        "python -m tests.tools.cli_reference > docs/cli-reference.md"
    )


def test_the_defaults_the_configuration_page_states_are_the_code_s() -> None:
    from antaeus_cli.cli.options import DEFAULT_DUNNING
    from antaeus_cli.domain import waits
    from antaeus_cli.domain.guards import DEFAULT_ANOMALY_FACTOR, DEFAULT_ANOMALY_HISTORY
    from antaeus_cli.domain.limits import DEFAULT_BREAKER_RATE, DEFAULT_BREAKER_WINDOW

    page = (ROOT / "docs" / "configuration.md").read_text()
    assert f"`{DEFAULT_DUNNING}` days" in page
    assert f"more than {DEFAULT_BREAKER_RATE:.0%} of the first {DEFAULT_BREAKER_WINDOW}" in page
    assert f"{DEFAULT_ANOMALY_FACTOR} times the customer's median" in page
    assert f"once they have {DEFAULT_ANOMALY_HISTORY} paid invoices" in page
    assert f"at most {waits.MAX_WAIT_S:g} s" in page


def _keys(document: object) -> set[str]:
    """Every member name in a JSON document, at any depth."""
    if isinstance(document, dict):
        return set(document).union(*(_keys(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(_keys(value) for value in document))
    return set()


def test_the_json_fields_the_cli_guide_names_are_the_ones_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command row's "`--json` prints ..." names fields the real output has (the
    commands without a published JSON Schema: those with one are validated against it)."""
    import json

    from typer.testing import CliRunner

    for name in ("ANTAEUS_DB", "ANTAEUS_PROVIDER", "ANTAEUS_DUNNING", "ANTAEUS_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    prod, demo = tmp_path / "prod.db", tmp_path / "demo.db"
    (tmp_path / "bad.csv").write_text("external_id,currency\nx,eur\n")
    runs = {
        "init": [str(prod), "init"],
        "import": [str(prod), "import", "customers", str(tmp_path / "bad.csv")],
        "backup": [str(prod), "backup", str(tmp_path / "copy.db")],
        "migrate": [str(prod), "migrate"],
        "check": [str(prod), "check"],
        "reconcile": [str(demo), "reconcile"],
    }
    assert CliRunner().invoke(app, ["--db", str(demo), "seed", "--seed", "1"]).exit_code == 0
    page = (ROOT / "docs" / "cli.md").read_text()
    for command, args in runs.items():
        printed = CliRunner().invoke(app, ["--db", *args, "--json"])
        fields = _keys(json.loads(printed.stdout))
        row = re.search(rf"^\| `antaeus {command}[` ].*$", page, flags=re.MULTILINE)
        assert row is not None, command
        clause = re.search(r"`--json`[^`]*? prints (.*?)(?:\.(?: |$)| \|)", row.group(0))
        assert clause is not None, f"cli.md does not say what `{command} --json` prints"
        named = set(re.findall(r"`([a-z_]+)`", clause.group(1)))
        assert named, command
        assert named <= fields, f"{command} --json: {sorted(named - fields)} not printed"
