"""The `antaeus` Typer app, its global options, and the error boundary around it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from antaeus_cli import __version__
from antaeus_cli.cli import (
    bill,
    check,
    imports,
    init,
    notify,
    reconcile,
    report,
    requeue,
    retry_failed,
    seed,
    streams,
    upkeep,
    void,
)
from antaeus_cli.cli.boundary import (
    describe_os_error,
    exit_code_for_error,
    exit_code_for_os_error,
    print_error,
    report_unexpected,
)
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.cli.options import from_env
from antaeus_cli.cli.panels import DATABASE, PanelledCommand
from antaeus_cli.errors import AntaeusError

DB_ENV = "ANTAEUS_DB"
DEFAULT_DB = "antaeus.db"


class _OneLineErrors(TyperGroup):
    """Runs the CLI with every failure turned into one stderr line and an ExitCode.

    Click would print usage errors over several lines; operators and cron logs get
    one line that says what is wrong and where to look.
    """

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,  # noqa: ARG002 - errors are always handled here
        **extra: Any,
    ) -> Any:
        def invoke() -> Any:
            return super(_OneLineErrors, self).main(
                args=global_options_first(sys.argv[1:] if args is None else list(args)),
                prog_name=prog_name or "antaeus",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )

        sys.exit(_guarded(invoke))


def global_options_first(args: list[str]) -> list[str]:
    """`--db PATH` is the one global option with a value; it may also follow the command
    (`antaeus report --db x.db`), as operators type it. It is moved in front of the
    command, as Click reads it. Nothing after a `--` is touched. A `--db` with no path
    after it is refused (moved to the front it would take the command's name for its
    path), and so are two different paths: which database was meant?"""
    moved: list[str] = []
    rest: list[str] = []
    paths: list[str] = []
    words = iter(args)
    for word in words:
        if word == "--":
            rest.append(word)
            rest.extend(words)
            break
        if word == "--db":
            path = next(words, None)
            if path is None:
                raise typer.BadParameter("'--db' needs a path after it", param_hint="'--db'")
            moved.extend((word, path))
            paths.append(path)
        elif word.startswith("--db="):
            moved.append(word)
            paths.append(word.removeprefix("--db="))
        else:
            rest.append(word)
    if len(set(paths)) > 1:
        raise typer.BadParameter(
            f"'--db' given twice ({', '.join(map(repr, dict.fromkeys(paths)))}): pass one",
            param_hint="'--db'",
        )
    return [*moved, *rest]


def _guarded(invoke: Callable[[], Any]) -> int:
    try:
        returned = invoke()
    except typer.TyperException as exc:  # click's usage errors
        return _usage_error(exc)
    except AntaeusError as exc:
        print_error(exc.message)
        return exit_code_for_error(exc)
    except OSError as exc:  # a path or a file no layer below could name: say which
        print_error(describe_os_error(exc))
        return exit_code_for_os_error(exc)
    except (typer.Abort, KeyboardInterrupt):
        print_error("interrupted; committed work is safe and the next run reconciles the rest")
        return ExitCode.STOPPED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks
        return report_unexpected(exc)
    return returned if isinstance(returned, int) else ExitCode.OK


def _usage_error(exc: typer.TyperException) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stderr.write(exc.format_message() + "\n")
        return ExitCode.USAGE
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    print_error(exc.format_message() + where)
    if ctx is not None and ctx.info_name == "check":
        # a monitoring plugin's usage error is UNKNOWN (Nagios), not CRITICAL
        from antaeus_cli.cli.text import safe
        from antaeus_cli.domain.health import Level

        sys.stdout.write(f"ANTAEUS UNKNOWN - {safe(exc.format_message())}{where}\n")
        return int(Level.UNKNOWN)
    return ExitCode.USAGE


app = typer.Typer(
    name="antaeus",
    cls=_OneLineErrors,
    help="Charge monthly subscription invoices, one safe pass per run.",
    epilog="Exit codes: 0 ok; 1 some invoices need an operator; 2 usage or input error; "
    "3 stopped early (outage or signal); 4 another pass holds the lock; 5 storage error; "
    "70 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    # Plain help, as Click writes it: rich's help formatter costs --help about 110 ms of
    # start-up, and a cron log or a CI job reads plain text better anyway.
    rich_markup_mode=None,
)


@dataclass(frozen=True, slots=True)
class Wiring:
    """Global options, handed to every command through the Typer context."""

    db_path: Path


def _version(value: bool) -> None:
    if value:
        from antaeus_cli.store.schema import SCHEMA_VERSION

        sys.stdout.write(f"antaeus {__version__} (database schema {SCHEMA_VERSION})\n")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH",
            help=f"The SQLite database. Default: ${DB_ENV}, else ./antaeus.db.",
            show_default=False,
            rich_help_panel=DATABASE,  # in every command's help, as it may follow any
        ),
    ] = None,
    version: Annotated[  # noqa: ARG001 - handled eagerly by its callback
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version, and the database schema version it writes.",
        ),
    ] = False,
) -> None:
    """Charge monthly subscription invoices, one safe pass per run."""
    ctx.obj = Wiring(db_path=Path(from_env(db, DB_ENV, DEFAULT_DB)))


app.command("init", cls=PanelledCommand)(init.command)
app.command("seed", cls=PanelledCommand)(seed.command)
app.command("bill", cls=PanelledCommand)(bill.command)
app.command("retry-failed", cls=PanelledCommand)(retry_failed.command)
app.command("notify", cls=PanelledCommand)(notify.command)
app.command("report", cls=PanelledCommand)(report.command)
app.command("check", cls=PanelledCommand)(check.command)
app.add_typer(imports.app, name="import")
app.command("backup", cls=PanelledCommand)(upkeep.backup_command)
app.command("migrate", cls=PanelledCommand)(upkeep.migrate_command)
app.command("reconcile", cls=PanelledCommand)(reconcile.command)
app.command("void", cls=PanelledCommand)(void.command)
app.command("requeue-notices", cls=PanelledCommand)(requeue.command)


def main() -> None:
    streams.install()  # a log that cannot be written never stops or fails a pass
    app()
