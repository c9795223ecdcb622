"""Write docs/cli-reference.md: every command's `--help`, as the CLI prints it.

    python -m tests.tools.cli_reference > docs/cli-reference.md

`tests/cli/test_docs.py` fails when the file and the CLI differ, so the reference
cannot drift from the code.
"""

from __future__ import annotations

import sys

import typer
from typer.testing import CliRunner

from antaeus_cli.cli.app import app

WIDTH = "88"
HEADER = """# CLI reference: `--help` of every command

[Back to the README](../README.md) · the commands explained, with exit codes and
environment: [CLI guide](cli.md)

Generated from the CLI itself (`python -m tests.tools.cli_reference >
docs/cli-reference.md`); a test fails when it and the code differ.
"""


def names() -> list[list[str]]:
    """Every command path: the root, each command, each subcommand of a group."""
    root = typer.main.get_command(app)
    found: list[list[str]] = [[]]
    for name, command in sorted(root.commands.items()):  # type: ignore[attr-defined]
        found.append([name])
        found.extend([name, sub] for sub in sorted(getattr(command, "commands", {})))
    return found


def reference() -> str:
    runner = CliRunner()
    parts = [HEADER]
    for path in names():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": WIDTH, "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        title = " ".join(["antaeus", *path])
        parts.append(f"## `{title}`\n\n```text\n{result.stdout.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(reference())
