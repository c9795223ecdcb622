"""Every exit code the tool returns. Scripts and cron wrappers may branch on these."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # the pass completed; declines are business outcomes, not errors
    # the pass completed, but it sent some invoices to an operator, or some open attempt
    # is overdue (no pass could settle it; money may have moved): 0 means nobody is needed
    NEEDS_OPERATOR = 1
    USAGE = 2  # bad option, argument, file or invoice id; nothing was changed
    STOPPED = 3  # stopped early: provider outage, or SIGINT/SIGTERM/SIGHUP; re-run to finish
    LOCKED = 4  # another pass holds the lock, or the database stayed busy; try later
    STORAGE = 5  # the database could not be written or read: permissions, space, damage
    INTERNAL = 70  # a bug; committed work is safe and the next run reconciles the rest
