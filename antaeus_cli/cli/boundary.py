"""The one place where errors and results become exit codes and stderr lines."""

from __future__ import annotations

import errno
import os
import sys
import traceback
from typing import TYPE_CHECKING

from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.cli.text import capped, safe
from antaeus_cli.errors import (
    AntaeusError,
    Contention,
    InputError,
    ProviderUnreachable,
    StoppedBeforeStart,
    StorageError,
)

if TYPE_CHECKING:
    from antaeus_cli.notify.results import NotifyResult

DEBUG_ENV = "ANTAEUS_DEBUG"

_BY_ERROR: tuple[tuple[type[AntaeusError], ExitCode], ...] = (
    (InputError, ExitCode.USAGE),
    (Contention, ExitCode.LOCKED),
    (StorageError, ExitCode.STORAGE),
    (ProviderUnreachable, ExitCode.STOPPED),
    (StoppedBeforeStart, ExitCode.STOPPED),
)


def exit_code_for_error(error: AntaeusError) -> ExitCode:
    for kind, code in _BY_ERROR:
        if isinstance(error, kind):
            return code
    return ExitCode.INTERNAL


# An operating-system error no layer below turned into one of ours: a path that cannot
# name a file is the caller's mistake; anything else is the storage's.
_PATH_ERRORS = frozenset(
    {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.EINVAL}
)


def exit_code_for_os_error(error: OSError) -> ExitCode:
    return ExitCode.USAGE if error.errno in _PATH_ERRORS else ExitCode.STORAGE


def describe_os_error(error: OSError) -> str:
    name = "a file" if error.filename is None else capped(str(error.filename), 200)
    return f"cannot use '{name}': {error.strerror or error}; nothing was changed"


_STOPPED = frozenset(
    {
        RunStatus.STOPPED_OUTAGE,
        RunStatus.STOPPED_CAP,
        RunStatus.STOPPED_BREAKER,
        RunStatus.INTERRUPTED,
    }
)


def exit_code_for_pass(result: PassResult) -> ExitCode:
    if result.error is not None:  # ended part-way by an error: that error's code
        return exit_code_for_error(result.error)
    if result.status in _STOPPED:
        return ExitCode.STOPPED
    if result.needs_operator:  # invoices held, or open attempts overdue
        return ExitCode.NEEDS_OPERATOR
    return ExitCode.OK


def exit_code_for_notify(result: NotifyResult) -> ExitCode:
    """The channel refused every notice (a setting): 2; stopped early (a signal, the
    channel down): 3; some notices failed for good: 1."""
    if result.channel_refused:
        return ExitCode.USAGE
    if result.stop_reason is not None:
        return ExitCode.STOPPED
    if result.failed:
        return ExitCode.NEEDS_OPERATOR
    return ExitCode.OK


def print_error(message: str) -> None:
    """One line on stderr, whatever the message holds (it may quote an argument):
    whitespace runs as one space, control characters escaped, at most MAX_LINE
    characters with a count of the rest."""
    flat = capped(safe(" ".join(message.split())))
    sys.stderr.write(f"antaeus: error: {flat}\n")
    sys.stderr.flush()


def report_unexpected(exc: BaseException) -> ExitCode:
    """A bug: one line by default; the traceback only when asked for, because a
    billing run's locals hold customer data."""
    print_error(
        f"internal error ({type(exc).__name__}: {exc}); committed work is safe and the next "
        f"run reconciles the rest; set {DEBUG_ENV}=1 for a traceback"
    )
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc, file=sys.stderr)
    return ExitCode.INTERNAL
