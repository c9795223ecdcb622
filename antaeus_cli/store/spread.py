"""A sample of the due invoices spread over their whole id range, for the decline-rate
breaker to judge a pass by: its first charges are then no longer the lowest ids,
which may all belong to customers whose cards decline.

Every function here runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from antaeus_cli.store.claims import FRESH, Days, Due, due_ids


def spread_ids(conn: sqlite3.Connection, due: Due, days: Days, count: int) -> list[int]:
    """Up to `count` due invoice ids, evenly spread from the first due id to the highest
    id there is: one index seek each, never the same id twice. Once a seek finds
    nothing, none after it would: the seeks together read the index at most once.
    Fresh first charges only: none in flight, none a tripped breaker handed back (those
    wait for the second walk, and a sample of them would judge nothing). None when no
    more than `count` are due: the window then holds them all anyway."""
    if count <= 0:
        return []
    first = due_ids(conn, due, days, float("-inf"), count + 1, only=FRESH)
    if len(first) <= count:
        return []  # the window holds every due invoice: nothing to spread
    (highest,) = conn.execute("SELECT max(id) FROM invoice").fetchone()
    low, span = first[0], max(0, int(highest) - first[0])
    found: list[int] = []
    for n in range(count):
        target = low + span * n // count
        if found and target <= found[-1]:
            continue  # the last seek landed past this target already
        # ids are 64-bit: the one before the lowest is "before every row"
        after = target - 1 if target > -(2**63) else float("-inf")
        step = due_ids(conn, due, days, after, 1, only=FRESH)
        if not step:
            break
        found.append(step[0])
    return found
