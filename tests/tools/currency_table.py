"""Print the currency table of `antaeus_cli/domain/currencies.py` as the installed
Babel's CLDR data gives it, to paste over `MINOR_DIGITS` after a deliberate upgrade.

    python -m tests.tools.currency_table
"""

from __future__ import annotations

from antaeus_cli.domain.currencies import from_cldr


def main() -> None:
    pairs = [f'"{code}": {digits}' for code, digits in from_cldr().items()]
    for start in range(0, len(pairs), 8):
        print("    " + ", ".join(pairs[start : start + 8]) + ",")


if __name__ == "__main__":
    main()
