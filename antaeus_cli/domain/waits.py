"""The one bound on every wait inside a billing pass. Pure.

A pass holds the pass lock for as long as it runs, so a wait is never only the
waiting request's business: a `Retry-After` of an hour, a rate slot far off or a
backoff that grows without end would stall every invoice behind it, and hold the
lock while doing so. Every wait of a pass (a 429's `Retry-After`, a pacer's hold, a
retry's backoff, and the waits of one key added up) is therefore at most
`MAX_WAIT_S`. docs/design.md ("Waits") says why 60 seconds.

A stop (SIGTERM, SIGINT, SIGHUP) ends every wait at once, and a request already in
flight when it comes gets `STOP_GRACE_S` to be answered before it is cut: so a pass
ends within a few seconds of a signal, however slow the provider.

Read the bound as `waits.MAX_WAIT_S` at the moment of use, never copied into another
name, so that there is one.
"""

from __future__ import annotations

import math

# Long enough for what a provider asks in earnest (Stripe asks for a second or two),
# short beside the lock's lease (store.runs.LEASE_TTL, 5 minutes), which a pass renews
# every 15 seconds while it waits.
MAX_WAIT_S = 60.0
# Most answers come in well under a second: a request in flight when the pass is asked
# to stop is waited for this long, so that its answer is recorded, not left in doubt.
STOP_GRACE_S = 2.0


def bounded(seconds: float) -> float:
    """`seconds` as a wait a pass may make: 0 for a negative one, the bound for one
    past it (infinity included), and the bound for NaN, which says nothing and so
    gets the most cautious answer."""
    if math.isnan(seconds):
        return MAX_WAIT_S
    return min(max(seconds, 0.0), MAX_WAIT_S)
