"""Named crash points for fault-injection tests, inert unless ANTAEUS_FAILPOINT names them.

`ANTAEUS_FAILPOINT=after-provider-charge:17` kills the process with SIGKILL the
moment invoice 17 reaches that point, so nothing gets a chance to clean up. Several
points may be given, separated by commas. When the variable is unset, each seam
costs one truthiness test of an empty object.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping

from antaeus_cli.errors import InputError

ENV_VAR = "ANTAEUS_FAILPOINT"

AFTER_ATTEMPT_COMMIT = "after-attempt-commit"  # value: invoice id
IN_PROVIDER_CALL = "in-provider-call"  # value: invoice id; after the provider booked it
AFTER_PROVIDER_CHARGE = "after-provider-charge"  # value: invoice id; answer not yet committed
BETWEEN_BATCHES = "between-batches"  # value: n-th batch of answers committed in a phase
AFTER_NOTICE_SENT = "after-notice-sent"  # value: notification id; delivered, not yet marked
PASS_POINTS = (AFTER_ATTEMPT_COMMIT, IN_PROVIDER_CALL, AFTER_PROVIDER_CHARGE, BETWEEN_BATCHES)
NAMES = (*PASS_POINTS, AFTER_NOTICE_SENT)


class Failpoints(frozenset[tuple[str, int]]):
    """The armed crash points of this process: (name, value) pairs.

    A frozenset, so the test at every seam is the C-level truthiness of an empty
    set, not a Python `__bool__` call; that is a measurable share of a 1M pass.
    """

    __slots__ = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Failpoints:
        text = environ.get(ENV_VAR, "").strip()
        if not text:
            return cls()
        armed = set()
        for item in text.split(","):
            name, _, value = item.strip().partition(":")
            if name not in NAMES or not value.strip().isdigit():
                raise InputError(
                    f"{ENV_VAR}={text!r}: expected NAME:NUMBER with NAME one of {', '.join(NAMES)}"
                )
            armed.add((name, int(value)))
        return cls(armed)

    def hit(self, name: str, value: int) -> None:
        """Die here, hard, if this point is armed for `value`."""
        if (name, value) in self:
            os.kill(os.getpid(), signal.SIGKILL)


NONE = Failpoints()
