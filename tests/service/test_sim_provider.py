"""The simulated provider: its own books, idempotent keys, faults in both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.money import Currency, Money
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider.port import (
    CurrencyMismatch,
    CustomerNotFound,
    NetworkError,
    ProviderError,
)
from antaeus_cli.provider.sim import SimProvider, SimSettings
from antaeus_cli.provider.sim_ledger import Account, SimLedger
from antaeus_cli.provider.spec import parse_spec

EUR = Currency.EUR


def provider(tmp_path: Path, rate: float = 0.0, seed: int = 1) -> SimProvider:
    path = tmp_path / "provider.db"
    if not path.exists():
        SimLedger.create(path, [Account(1, "EUR", 1000), Account(2, "USD", 10**6)]).close()
    return SimProvider(SimLedger.open(path), SimSettings(0, rate, seed), "sim://")


def inv(invoice_id: int, customer: int, minor: int, currency: Currency = EUR) -> Invoice:
    return Invoice(invoice_id, customer, Money(minor, currency))


def test_charges_move_money_once_per_key(tmp_path: Path) -> None:
    sim = provider(tmp_path)
    assert sim.charge(inv(1, 1, 600), "k1") is True
    assert sim.charge(inv(1, 1, 600), "k1") is True  # a replay, not a second charge
    assert sim.charge(inv(2, 1, 600), "k2") is False  # only 400 left
    assert sim.charge(inv(2, 1, 600), "k2") is False  # the replay gives the first answer
    charges = SimLedger.open(tmp_path / "provider.db").charges()
    assert [(c["idempotency_key"], c["outcome"], c["replays"]) for c in charges] == [
        ("k1", "charged", 1),
        ("k2", "declined", 1),
    ]


def test_unknown_customers_and_currency_mismatches_raise(tmp_path: Path) -> None:
    sim = provider(tmp_path)
    with pytest.raises(CustomerNotFound):
        sim.charge(inv(1, 99, 10), "k1")
    with pytest.raises(CurrencyMismatch):
        sim.charge(inv(2, 2, 10, Currency.EUR), "k2")


def test_a_key_reused_for_another_request_is_refused(tmp_path: Path) -> None:
    sim = provider(tmp_path)
    sim.charge(inv(1, 1, 100), "k1")
    with pytest.raises(ProviderError, match="first used"):
        sim.charge(inv(1, 1, 200), "k1")


def test_faults_happen_in_both_directions_and_repeat_with_the_seed(tmp_path: Path) -> None:
    def run(seed: int) -> list[str]:
        folder = tmp_path / str(seed)
        folder.mkdir(exist_ok=True)
        sim = provider(folder, rate=0.5, seed=seed)
        seen = []
        for n in range(60):
            try:
                sim.charge(inv(n, 2, 1, Currency.USD), f"key-{n}")
                seen.append("ok")
            except NetworkError as exc:
                seen.append("lost-request" if "before" in str(exc) else "lost-response")
        return seen

    first = run(7)
    assert first == run(7)
    assert {"ok", "lost-request", "lost-response"} <= set(first)
    ledger = SimLedger.open(tmp_path / "7" / "provider.db")
    booked = {c["invoice_id"] for c in ledger.charges()}
    for n, what in enumerate(first):
        assert (n in booked) == (what != "lost-request"), n


def test_a_missing_ledger_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderSpecError, match="antaeus seed"):
        SimProvider.from_spec(parse_spec("sim://"), tmp_path / "antaeus.db")


def test_an_in_memory_ledger_starts_from_the_file_and_leaves_it_alone(tmp_path: Path) -> None:
    SimLedger.create(tmp_path / "antaeus.provider.db", [Account(1, "EUR", 1000)]).close()
    sim = SimProvider.from_spec(parse_spec("sim://?ledger=:memory:"), tmp_path / "antaeus.db")
    assert sim.charge(inv(1, 1, 600), "k1") is True
    assert SimLedger.open(tmp_path / "antaeus.provider.db").charges() == []
