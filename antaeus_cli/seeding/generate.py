"""The challenge's data set, with a few planted cases so a demo shows every outcome."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from antaeus_cli.domain.dates import first_of_month, months_before
from antaeus_cli.domain.money import Currency
from antaeus_cli.provider.sim_ledger import Account
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice

MIN_AMOUNT = 10_00  # 10.00 in minor units
MAX_AMOUNT = 500_00  # 500.00
RICH = 1_000_000_00  # a balance that covers any pending invoice
PLANT_FROM = 10  # smaller data sets get no planted cases

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
    PAID in the months before. Amounts are 10.00 to 500.00."""
    rng = random.Random(options.seed)
    count = options.customers
    currencies = [rng.choice(list(Currency)).value for _ in range(count)]
    pending = [rng.randint(MIN_AMOUNT, MAX_AMOUNT) for _ in range(count)]
    planted = _plant(rng, count) if count >= PLANT_FROM and options.invoices_per_customer else {}
    by_customer = {cid: label for label, ids in planted.items() for cid in ids}
    customers = [
        SeedCustomer(cid, currencies[cid - 1], _account(rng, cid, currencies, pending, by_customer))
        for cid in range(1, count + 1)
    ]
    scenario = Scenario(customers, [], f"generated with --seed {options.seed}")
    scenario.invoices = list(_invoices(options, currencies, pending, by_customer))
    scenario.planted = {
        label: [_first_invoice(cid, options.invoices_per_customer) for cid in ids]
        for label, ids in planted.items()
    }
    return scenario


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


def _account(
    rng: random.Random, cid: int, currencies: list[str], pending: list[int], planted: dict[int, str]
) -> Account | None:
    label = planted.get(cid)
    currency = currencies[cid - 1]
    if label == UNKNOWN_CUSTOMER:
        return None
    if label == LOW_BALANCE:
        return Account(cid, currency, rng.randint(0, pending[cid - 1] - 1))
    if label == PROVIDER_MISMATCH:
        return Account(cid, _other(currency), RICH)
    return Account(cid, currency, RICH)


def _invoices(
    options: GenerateOptions, currencies: list[str], pending: list[int], planted: dict[int, str]
) -> Iterator[SeedInvoice]:
    rng = random.Random(f"{options.seed}:invoices")
    per = options.invoices_per_customer
    due = first_of_month(options.as_of)
    for cid in range(1, options.customers + 1):
        currency = currencies[cid - 1]
        amount = pending[cid - 1]
        label = planted.get(cid)
        if label == LOCAL_MISMATCH:
            currency = _other(currency)
        elif label == ZERO_AMOUNT:
            amount = 0
        elif label == UNKNOWN_CURRENCY:
            currency = "XYZ"
        first = _first_invoice(cid, per)
        if per:
            yield SeedInvoice(first, cid, amount, currency, due)
        for k in range(1, per):
            yield SeedInvoice(
                first + k,
                cid,
                rng.randint(MIN_AMOUNT, MAX_AMOUNT),
                currencies[cid - 1],
                months_before(due, k),
                status="PAID",
            )


def _first_invoice(cid: int, per: int) -> int:
    return (cid - 1) * per + 1


def _other(currency: str) -> str:
    codes = [c.value for c in Currency]
    return codes[(codes.index(currency) + 1) % len(codes)]
