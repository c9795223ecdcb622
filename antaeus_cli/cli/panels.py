"""The panels that every command's `--help` groups its options into, named once.

An option names its panel with Typer's `rich_help_panel`. The help is plain text, as
Click writes it (see `app.rich_markup_mode`), so `PanelledCommand` writes one section
per panel, in the order of `ORDER`. An option shared by several commands is in the
same panel in each: `--json` and `--metrics-file` in "Output", `--provider` in
"Provider", and `--db`, the one global option that may also follow the command, in
"Database" at the foot of every command's help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperCommand

if TYPE_CHECKING:  # the Click that Typer carries within it, and calls
    from typer._click import Context, HelpFormatter, Parameter

# What the command acts on; one per command, named by what it does.
WHAT_TO_CHARGE = "What to charge"
WHAT_TO_DELIVER = "What to deliver"
WHAT_TO_CREATE = "What to create"
WHAT_TO_SHOW = "What to show"
WHAT_TO_JUDGE = "What to judge"
WHAT_TO_RECONCILE = "What to reconcile"
WHAT_TO_IMPORT = "What to import"
WHAT_TO_VOID = "What to void"
WHAT_TO_REQUEUE = "What to put back"
TEMPLATES = "Templates"
# Shared by the commands that take them.
LIMITS = "Limits and guards"
PROVIDER = "Provider"
CHANNEL = "Channel"
OUTPUT = "Output"
DATABASE = "Database"

ORDER = (
    WHAT_TO_CHARGE,
    WHAT_TO_DELIVER,
    WHAT_TO_CREATE,
    WHAT_TO_SHOW,
    WHAT_TO_JUDGE,
    WHAT_TO_RECONCILE,
    WHAT_TO_IMPORT,
    WHAT_TO_VOID,
    WHAT_TO_REQUEUE,
    LIMITS,
    PROVIDER,
    CHANNEL,
    TEMPLATES,
    OUTPUT,
    DATABASE,
)
ARGUMENTS = "Arguments"
OTHER = "Options"  # what names no panel: --help


COLUMN_MAX = 30  # Click's: a longer option's text starts on the next line


class PanelledCommand(TyperCommand):
    """A command whose plain `--help` lists its options panel by panel, their texts in
    one column across the panels."""

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in [*_global_options(ctx), *self.get_params(ctx)]:
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                title = ARGUMENTS
            else:
                title = getattr(param, "rich_help_panel", None) or OTHER
            sections.setdefault(title, []).append(record)
        terms = [len(term) for rows in sections.values() for term, _ in rows]
        width = min(max(terms, default=0), COLUMN_MAX)
        for title in sorted(sections, key=_rank):
            with formatter.section(title):
                # Click aligns each list by its own longest term: padded to the longest
                # of all, every panel's texts start in the same column.
                formatter.write_dl(
                    [(term.ljust(width) if text else term, text) for term, text in sections[title]]
                )


def _rank(title: str) -> int:
    """Arguments first, then the panels in their order, then what names none."""
    if title == ARGUMENTS:
        return -1
    return ORDER.index(title) if title in ORDER else len(ORDER)


def _global_options(ctx: Context) -> list[Parameter]:
    """The root's options that name a panel (`--db`): they may follow any command
    (`app.global_options_first`), so each command's help lists them too."""
    root = ctx.find_root()
    if root is ctx:
        return []
    return [param for param in root.command.params if getattr(param, "rich_help_panel", None)]
