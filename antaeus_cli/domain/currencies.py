"""Which currencies an invoice may be in, and how many decimal places each one's
minor unit has: the table every amount in the ledger is counted in.

The currencies are the ISO 4217 codes that CLDR (through Babel) lists as legal
tender somewhere today, with no end date: about 150, withdrawn and fund codes
(DEM, XAU, CLF) left out. The minor units are CLDR's, except that only a currency
on Stripe's zero-decimal list has none: CLDR writes some currencies without their
cents (HUF, IDR, COP, ISK...), but their amounts still have them in ISO 4217 and at
Stripe, and an amount must mean what the provider charges (ISO 4217's three for the
Iraqi dinar, two for the others). So the ledger's unit is the one Stripe's API counts
in: 1000 JPY is 1,000 yen, 1000 HUF is 10.00 forint, 1000 BHD is 1.000 dinar.

Pure: the table is read from Babel's packaged data once, at import.
"""

from __future__ import annotations

from typing import Final

from babel.core import get_global
from babel.numbers import get_currency_precision

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal):
# their amounts are whole units.
ZERO_DECIMAL: Final = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)


def _in_use() -> frozenset[str]:
    """Codes some territory holds as legal tender with no end date (CLDR)."""
    return frozenset(
        code
        for held in get_global("territory_currencies").values()
        for code, _start, end, tender in held
        if tender and end is None and len(code) == 3 and code.isascii() and code.isupper()
    )


# ISO 4217's minor unit where CLDR writes a currency without one and it is not two.
WRITTEN_WITHOUT: Final = {"IQD": 3}  # 1,000 fils to the Iraqi dinar


def _minor_digits(code: str) -> int:
    if code in ZERO_DECIMAL:
        return 0
    # CLDR's 0 means "written without cents", not "has none": as ISO 4217 has them
    return get_currency_precision(code) or WRITTEN_WITHOUT.get(code, 2)


MINOR_DIGITS: Final[dict[str, int]] = {code: _minor_digits(code) for code in sorted(_in_use())}
