"""Every command's `--help`, as an operator reads it on an 80-column terminal: options
grouped in panels named alike across commands, in one order, each line within 80
columns, and each text saying what its own command does."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from antaeus_cli.cli import panels
from antaeus_cli.cli.app import app

ROOT = typer.main.get_command(app)
COLUMNS = 80
HEADING = re.compile(r"^([A-Z][^:]*):$")
OPTION = re.compile(r"^  (--[a-z-]+)")
# An option whose panel is its command's own "What to ...": the same name may act on
# different things in different commands (--as-of, --tz, --dry-run, --limit).
OWN = re.compile(r"^What to ")
# --format is the report's output, and the format of the file an import reads.
DIFFERS = {"--format"}


def command_paths() -> list[list[str]]:
    found = []
    for name, command in sorted(ROOT.commands.items()):  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", {})
        found.extend([[name, sub] for sub in sorted(subcommands)] if subcommands else [[name]])
    return found


def panels_of(path: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """The help's headings in order, each option's heading, and its lines."""
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(COLUMNS)})
    assert result.exit_code == 0, result.output
    headings: list[str] = []
    placed: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if (heading := HEADING.match(line)) and not line.startswith("Usage"):
            headings.append(heading.group(1))
        elif (option := OPTION.match(line)) and headings:
            placed[option.group(1)] = headings[-1]
    return headings, placed, result.stdout.splitlines()


PATHS = command_paths()
IDS = [" ".join(path) for path in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_every_option_is_in_a_named_panel_in_the_one_order(path: list[str]) -> None:
    headings, placed, _ = panels_of(path)
    known = [panels.ARGUMENTS, *panels.ORDER, panels.OTHER]
    assert set(headings) <= set(known), headings
    assert headings == sorted(headings, key=known.index)
    assert placed.pop("--help") == panels.OTHER
    assert placed.pop("--db") == panels.DATABASE  # it may follow any command
    assert all(panel in panels.ORDER for panel in placed.values()), placed
    assert len([h for h in headings if OWN.match(h)]) <= 1  # what this command acts on


def test_an_option_of_several_commands_is_in_the_same_panel_in_each() -> None:
    seen: dict[str, set[str]] = {}
    for path in PATHS:
        for option, panel in panels_of(path)[1].items():
            seen.setdefault(option, set()).add(panel)
    mixed = {
        option: found
        for option, found in seen.items()
        if len(found) > 1 and option not in DIFFERS and not all(OWN.match(p) for p in found)
    }
    assert mixed == {}
    assert seen["--json"] == {panels.OUTPUT}
    assert seen["--metrics-file"] == {panels.OUTPUT}
    assert seen["--provider"] == {panels.PROVIDER}


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_help_fits_80_columns_and_names_no_bare_type(path: list[str]) -> None:
    """No line is wider than the terminal, and an option shows what it takes (N, MS,
    ZONE), never Click's '<int range>'."""
    lines = panels_of(path)[2]
    assert max(len(line) for line in lines) <= COLUMNS
    assert not [line for line in lines if "range>" in line]


@pytest.mark.parametrize(
    ("path", "says", "never"),
    [
        (["bill"], "would be charged", "deliver"),
        (["retry-failed"], "would be charged", "deliver"),
        (["notify"], "would be delivered", "charge"),
        (["import", "invoices"], "write nothing", "charge"),
    ],
)
def test_a_dry_run_says_what_its_own_command_would_do(
    path: list[str], says: str, never: str
) -> None:
    lines = panels_of(path)[2]
    (start,) = [i for i, line in enumerate(lines) if line.startswith("  --dry-run")]
    rest = lines[start + 1 :]
    ends = next(i for i, line in enumerate(rest) if not line.startswith("    "))
    text = " ".join(line.strip() for line in lines[start : start + 1 + ends])
    assert says in text
    assert never not in text
