"""The currency table, held to the facts it is built from: ISO 4217 codes in use
(CLDR), minor units as Stripe's API counts them, each written as its home market does."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.currencies import MINOR_DIGITS, ZERO_DECIMAL, from_cldr, home


def test_the_table_is_cldr_s_as_babel_gives_it() -> None:
    """A Babel upgrade that changes a currency or its minor unit fails here, to be read
    and taken on purpose (python -m tests.tools.currency_table), never unseen."""
    assert from_cldr() == MINOR_DIGITS


def test_every_code_in_use_is_there_and_no_withdrawn_one() -> None:
    assert 140 <= len(MINOR_DIGITS) <= 170
    for code in ("EUR", "USD", "DKK", "SEK", "GBP", "JPY", "HUF", "BHD", "ISK", "CHF", "XOF"):
        assert code in MINOR_DIGITS
    for withdrawn in ("DEM", "FRF", "ESP", "ZWD", "VEF", "HRK", "SLL"):
        assert withdrawn not in MINOR_DIGITS
    for fund_or_metal in ("XAU", "CLF", "XDR", "USN", "XXX"):
        assert fund_or_metal not in MINOR_DIGITS
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in MINOR_DIGITS)


def test_only_stripe_s_zero_decimal_currencies_have_no_minor_unit() -> None:
    assert {code for code, digits in MINOR_DIGITS.items() if digits == 0} == ZERO_DECIMAL


@pytest.mark.parametrize(
    ("code", "digits"),
    [
        ("EUR", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("HUF", 2),  # CLDR writes no fillér
        ("IDR", 2),
        ("ISK", 2),  # ISO 4217 has none; Stripe counts hundredths
        ("COP", 2),
        ("BHD", 3),
        ("KWD", 3),
        ("TND", 3),
    ],
)
def test_each_minor_unit_is_the_one_stripe_counts(code: str, digits: int) -> None:
    assert MINOR_DIGITS[code] == digits


@pytest.mark.parametrize(
    ("code", "language", "territory"),
    [
        ("DKK", "da", "DK"),
        ("SEK", "sv", "SE"),
        ("JPY", "ja", "JP"),
        ("CHF", "de", "CH"),
        ("EUR", "en", None),  # a union's code: no language of its own
        ("XOF", "en", None),  # a currency of many countries
        ("USD", "en", "US"),
    ],
)
def test_a_currency_is_written_where_it_is_at_home(
    code: str, language: str, territory: str | None
) -> None:
    locale, pattern = home(code)
    assert (locale.language, locale.territory) == (language, territory)
    assert pattern.frac_prec == (MINOR_DIGITS[code], MINOR_DIGITS[code])
