"""The amount guard: an invoice far above what its customer usually pays is held."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.guards import GUARDS_OFF, AmountGuard


@pytest.mark.parametrize(
    ("paid", "median"),
    [
        ([100, 300, 200], 200),
        ([400, 100, 300, 200], 300),  # even: the higher of the two middle ones
        ([100, 100, 100, 900, 900], 100),
        ([5, 1, 9, 7, 3, 2], 5),
    ],
)
def test_the_usual_amount_is_the_median_of_the_paid_ones(paid: list[int], median: int) -> None:
    guard = AmountGuard(factor=2, history=3)
    assert guard.usual(2 * median + 1, paid) == median
    assert guard.usual(2 * median, paid) is None  # exactly `factor` times is not unusual


def test_an_amount_is_judged_by_the_factor_times_the_median() -> None:
    guard = AmountGuard(factor=10, history=3)
    paid = [1000, 1000, 1000]
    assert guard.usual(10_001, paid) == 1000
    assert guard.usual(10_000, paid) is None
    assert guard.usual(5, paid) is None


@pytest.mark.parametrize("history", [1, 3, 4])
def test_with_fewer_paid_invoices_than_its_history_nothing_is_usual_yet(history: int) -> None:
    guard = AmountGuard(factor=10, history=history)
    paid = [100] * history
    assert guard.usual(100_000, paid) == 100
    assert guard.usual(100_000, paid[1:]) is None


def test_a_customer_who_never_paid_has_no_usual_amount() -> None:
    assert AmountGuard(factor=10, history=0).usual(100_000, []) is None


def test_factor_zero_turns_the_guard_off() -> None:
    assert not GUARDS_OFF.on
    assert GUARDS_OFF.usual(10**9, [1, 1, 1, 1]) is None
    assert AmountGuard(factor=1, history=1).usual(2, [1])
