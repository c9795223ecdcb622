"""The challenge's data set, with a few planted cases so a demo shows every outcome.

Rows are produced one at a time from seeded random streams, so the same seed gives
the same data, and a million invoices never sit in memory at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from antaeus_cli.domain.dates import first_of_month, months_before
from antaeus_cli.provider.sim_ledger import Account
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice

MIN_AMOUNT = 10_00  # 10.00 in minor units
MAX_AMOUNT = 500_00  # 500.00
RICH = 1_000_000_00  # a balance that covers any pending invoice
PLANT_FROM = 10  # smaller data sets get no planted cases
# The demo company's five markets, in the order its data is generated from
CODES = ["EUR", "USD", "DKK", "SEK", "GBP"]
# Where each market's customers live: their invoices fall due at their own midnight.
ZONES: dict[str, tuple[str, ...]] = {
    "USD": ("America/New_York", "America/Chicago", "America/Los_Angeles"),
    "EUR": ("Europe/Berlin", "Europe/Dublin"),
    "DKK": ("Europe/Copenhagen",),
    "SEK": ("Europe/Stockholm",),
    "GBP": ("Europe/London",),
}
# The locale a customer living in a zone may have; a share of them have it, the others
# (and everyone in another zone) NULL: the company's locale.
LOCALES: dict[str, str] = {
    "Europe/Copenhagen": "da-DK",
    "Europe/Stockholm": "sv-SE",
    "Europe/Berlin": "de-DE",
    "Europe/London": "en-GB",
}
LOCALE_SHARE = 0.3

UNKNOWN_CUSTOMER = "customer unknown to the provider"
LOW_BALANCE = "balance too low (declined)"
LOCAL_MISMATCH = "invoice currency differs from the customer's"
PROVIDER_MISMATCH = "provider account in another currency"
ZERO_AMOUNT = "malformed: zero amount"
UNKNOWN_CURRENCY = "malformed: unknown currency"


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    as_of: date
    customers: int = 100
    invoices_per_customer: int = 10
    seed: int = 0


def generate(options: GenerateOptions) -> Scenario:
    """`customers` customers in random currencies, each with `invoices_per_customer`
    invoices: the first PENDING and due on the first of the as-of month, the rest
    PAID in the months before. Amounts are 10.00 to 500.00. Each customer lives in a
    zone of their market; 3 in 10 of those in a zone of `LOCALES` have its locale, the
    rest the company's."""
    data = _Generated(options)
    return Scenario(
        data.customers,
        data.invoices,
        f"generated with --seed {options.seed}",
        {
            label: [_first_invoice(cid, options.invoices_per_customer) for cid in ids]
            for label, ids in data.planted.items()
        },
    )


class _Generated:
    def __init__(self, options: GenerateOptions) -> None:
        self.options = options
        count = options.customers
        plants = count >= PLANT_FROM and options.invoices_per_customer > 0
        self.planted = _plant(random.Random(f"{options.seed}:plant"), count) if plants else {}
        self.label = {cid: label for label, ids in self.planted.items() for cid in ids}

    def _base(self) -> Iterator[tuple[int, str, int]]:
        """(customer id, currency, pending amount): the stream both tables share.

        Drawn with `random()` arithmetic rather than choice()/randint(): a million
        customers are read three times, and the pure-Python helpers cost seconds."""
        draw = random.Random(self.options.seed).random
        codes, span = CODES, MAX_AMOUNT - MIN_AMOUNT + 1
        markets = len(codes)
        for cid in range(1, self.options.customers + 1):
            yield cid, codes[int(draw() * markets)], MIN_AMOUNT + int(draw() * span)

    def customers(self) -> Iterator[SeedCustomer]:
        balances = random.Random(f"{self.options.seed}:balance")
        draw = random.Random(f"{self.options.seed}:zone").random  # a stream of its own
        speaks = random.Random(f"{self.options.seed}:locale").random  # and so is this
        for cid, currency, pending in self._base():
            account = self._account(balances, cid, currency, pending)
            zones = ZONES[currency]
            zone = zones[int(draw() * len(zones))]
            locale = LOCALES.get(zone) if speaks() < LOCALE_SHARE else None
            email = f"customer-{cid}@example.com"
            yield SeedCustomer(cid, currency, account, None, email, zone, locale)

    def _account(self, rng: random.Random, cid: int, currency: str, pending: int) -> Account | None:
        label = self.label.get(cid)
        if label is None:
            return Account(cid, currency, RICH)
        if label == UNKNOWN_CUSTOMER:
            return None
        if label == LOW_BALANCE:
            return Account(cid, currency, rng.randint(0, pending - 1))
        if label == PROVIDER_MISMATCH:
            return Account(cid, _other(currency), RICH)
        return Account(cid, currency, RICH)

    def invoices(self) -> Iterator[SeedInvoice]:
        per = self.options.invoices_per_customer
        draw = random.Random(f"{self.options.seed}:invoices").random
        span = MAX_AMOUNT - MIN_AMOUNT + 1
        due = first_of_month(self.options.as_of)
        past = [months_before(due, k) for k in range(per)]
        for cid, currency, pending in self._base():
            first = _first_invoice(cid, per)
            if per:
                yield self._pending(first, cid, currency, pending, due)
            for k in range(1, per):
                amount = MIN_AMOUNT + int(draw() * span)
                yield SeedInvoice(first + k, cid, amount, currency, past[k], "PAID")

    def _pending(
        self, invoice_id: int, cid: int, currency: str, amount: int, due: date
    ) -> SeedInvoice:
        label = self.label.get(cid)
        if label == LOCAL_MISMATCH:
            currency = _other(currency)
        elif label == ZERO_AMOUNT:
            amount = 0
        elif label == UNKNOWN_CURRENCY:
            currency = "XYZ"
        return SeedInvoice(invoice_id, cid, amount, currency, due)


def _plant(rng: random.Random, count: int) -> dict[str, list[int]]:
    shares = [
        (LOW_BALANCE, max(1, count * 15 // 100)),
        (UNKNOWN_CUSTOMER, max(1, count * 3 // 100)),
        (LOCAL_MISMATCH, max(1, count * 3 // 100)),
        (PROVIDER_MISMATCH, max(1, count // 100)),
        (ZERO_AMOUNT, 1),
        (UNKNOWN_CURRENCY, 1),
    ]
    shuffled = rng.sample(range(1, count + 1), k=sum(n for _, n in shares))
    planted = {}
    for label, n in shares:
        planted[label], shuffled = sorted(shuffled[:n]), shuffled[n:]
    return planted


def _first_invoice(cid: int, per: int) -> int:
    return (cid - 1) * per + 1


def _other(currency: str) -> str:
    return CODES[(CODES.index(currency) + 1) % len(CODES)]
