"""A sample of the due invoices spread over all of them, for the decline-rate breaker
to judge a pass by: its first charges are then no longer the lowest ids, which may
all belong to customers whose cards decline.

Every function here runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from antaeus_cli.store.claims import FRESH, Days, Due, due_ids


def spread_ids(conn: sqlite3.Connection, due: Due, days: Days, count: int) -> list[int]:
    """Up to `count` due invoice ids, evenly spread from the first due id to the last:
    one index seek each, never the same id twice. Fresh first charges only: none in
    flight, none a tripped breaker handed back (those wait for the second walk, and a
    sample of them would judge nothing). None when no more than `count` are due: the
    window then holds them all anyway.

    Where the due ids leave gaps (a few old invoices far below this month's, say),
    seeks into a gap land on the same invoice and the sample comes out short; it is
    then drawn by rank instead, every (due / count)-th due invoice in one scan, so
    that it is never filled up from the lowest ids."""
    if count <= 0:
        return []
    first = due_ids(conn, due, days, float("-inf"), count + 1, only=FRESH)
    if len(first) <= count:
        return []  # the window holds every due invoice: nothing to spread
    low = first[0]
    span = max(0, _last_due(conn, due, days) - low)
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
    if len(found) < count:
        return _by_rank(conn, due, days, count)
    return found


def _where(due: Due, days: Days) -> str:
    """FROM and WHERE of the fresh due invoices: constants and bound values only."""
    return f"FROM {due.invoices} WHERE {due.condition(days)} AND {FRESH.sql}"


def _last_due(conn: sqlite3.Connection, due: Due, days: Days) -> int:
    """The highest due id: not the highest id there is, which may be next month's."""
    where = _where(due, days)
    (last,) = conn.execute(
        f"SELECT i.id {where} ORDER BY i.id DESC LIMIT 1", days.params
    ).fetchone()
    return int(last)


def _by_rank(conn: sqlite3.Connection, due: Due, days: Days, count: int) -> list[int]:
    """`count` due ids evenly spaced by rank: the ranks r (from 0) of n due invoices
    with r * count mod n < count, one for each j below count (r = ceil(j * n / count))."""
    where = _where(due, days)
    (total,) = conn.execute(f"SELECT count(*) {where}", days.params).fetchone()
    return [
        int(row[0])
        for row in conn.execute(
            "SELECT id FROM (SELECT i.id AS id, row_number() OVER (ORDER BY i.id) - 1 AS r "
            f"{where}) WHERE r * :count % :total < :count ORDER BY id",
            {**days.params, "count": count, "total": total},
        )
    ]
