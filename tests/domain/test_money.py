from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.money import CURRENCIES, Currency, CurrencyMix, Money, Totals, format_minor


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (123456, "EUR", "EUR 1,234.56"),
        (5, "USD", "USD 0.05"),
        (0, "DKK", "DKK 0.00"),
        (-1050, "SEK", "SEK -10.50"),
        (100_000_000_00, "GBP", "GBP 100,000,000.00"),
        (18219, "XYZ", "XYZ 18,219 (minor units)"),
        (1500, "IQD", "IQD 1.500"),
    ],
)
def test_format_minor_uses_each_currencys_minor_unit(
    minor: int, currency: str, expected: str
) -> None:
    assert format_minor(minor, currency) == expected


def test_parse_accepts_only_a_currency_in_use_by_its_code() -> None:
    assert Currency.parse("EUR") is Currency("EUR")
    assert Currency.parse("JPY") is Currency("JPY")
    assert Currency.parse("eur") is None
    assert Currency.parse("XYZ") is None
    assert Currency.parse("DEM") is None  # withdrawn
    assert Currency.parse(None) is None
    assert Currency.parse(978) is None
    assert Currency.parse(["EUR"]) is None  # not a code, and no hashable one either
    with pytest.raises(ValueError, match="'DEM' is not a currency in use"):
        Currency("DEM")


def test_money_adds_within_a_currency_and_refuses_across() -> None:
    assert Money(100, Currency("EUR")) + Money(250, Currency("EUR")) == Money(350, Currency("EUR"))
    with pytest.raises(CurrencyMix, match="cannot add USD to EUR"):
        _ = Money(100, Currency("EUR")) + Money(100, Currency("USD"))


def test_totals_keep_each_currency_apart() -> None:
    totals = Totals()
    totals.add("EUR", 100)
    totals.add("USD", 7)
    totals.add("EUR", 50)
    rows = {row.currency: (row.count, row.minor) for row in totals.rows()}
    assert rows == {"EUR": (2, 150), "USD": (1, 7)}


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(list(CURRENCIES)))
def test_formatting_loses_no_minor_unit(minor: int, currency: Currency) -> None:
    code, _, number = format_minor(minor, currency.value).partition(" ")
    assert code == currency.value
    assert Decimal(number.replace(",", "")).scaleb(currency.minor_digits) == minor


@given(st.lists(st.tuples(st.sampled_from(list(CURRENCIES)), st.integers(0, 10**12))))
def test_totals_equal_the_per_currency_sums(entries: list[tuple[Currency, int]]) -> None:
    totals = Totals()
    for currency, minor in entries:
        totals.add(currency.value, minor)
    for row in totals.rows():
        assert row.minor == sum(m for c, m in entries if c.value == row.currency)
        assert row.count == sum(1 for c, _ in entries if c.value == row.currency)


def test_taking_back_an_amount_leaves_the_rest_of_its_currency() -> None:
    totals = Totals()
    assert not totals
    totals.add("EUR", 100)
    totals.add("EUR", 250)
    totals.add("USD", 7)
    assert totals
    totals.take("EUR", 100)
    totals.take("GBP", 5)  # never added: nothing to take
    assert [(r.currency, r.count, r.minor) for r in totals.rows()] == [
        ("EUR", 1, 250),
        ("USD", 1, 7),
    ]
    totals.take("EUR", 250)  # the last of its currency: the row goes
    totals.take("USD", 7)
    assert totals.rows() == []
    assert not totals


def test_a_currency_s_row_stays_while_it_counts_an_amount_even_one_of_nothing() -> None:
    totals = Totals()
    totals.add("EUR", 0)
    totals.add("EUR", 500)
    totals.take("EUR", 500)
    assert [(r.currency, r.count, r.minor) for r in totals.rows()] == [("EUR", 1, 0)]


# ISO 4217's minor unit of each currency CLDR writes without one that is not on Stripe's
# zero-decimal list (ISK, whole krónur at Stripe but two decimals in its API, is Stripe's)
ISO_MINOR_UNITS = {"AFN": 2, "ALL": 2, "COP": 2, "HUF": 2, "IDR": 2, "IQD": 3, "IRR": 2}
ISO_MINOR_UNITS |= {"KPW": 2, "LAK": 2, "LBP": 2, "MMK": 2, "SOS": 2, "SYP": 2, "YER": 2}


@pytest.mark.parametrize(("code", "digits"), sorted(ISO_MINOR_UNITS.items()))
def test_a_currency_written_without_its_minor_unit_counts_it_as_iso_4217_does(
    code: str, digits: int
) -> None:
    assert Currency(code).minor_digits == digits
