"""Run limits: stop a pass early when it looks systematically wrong. Pure.

- **Caps** (`--max-total CUR=AMOUNT`): the money a pass may move per currency. Every
  key sent reserves its amount once, before the provider hears of it (a replay of a
  key this pass already sent reserves nothing more); an answer that moved no money
  gives the reservation back. A charge that would pass the cap is never sent, and
  the pass stops. What it says was reserved is what may have moved, never more.
- **The decline-rate breaker**: when more than `rate` of the first `window` first
  charges of a pass decline, something is wrong with the whole pass (a provider
  account, a currency, a card network), not with the customers. The pass stops, and
  every first charge of the pass that declined (those answered after the window
  filled too) is handed back: no dunning step, no notice. A later pass charges what
  was handed back only after it has judged its own fresh first charges, and does not
  count them again; a card that said never (a hard decline, or one that needs the
  customer) is not charged again but held for the customer, and told then. So a few
  customers whose cards decline can trip one pass, never every pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from antaeus_cli.domain import words
from antaeus_cli.domain.attempt import Attempt, CallResult
from antaeus_cli.domain.invoice import AttemptOutcome, InvoiceStatus
from antaeus_cli.domain.money import Currency, format_minor

_AMOUNT = re.compile(r"[0-9]{1,30}(\.[0-9]{1,30})?", re.ASCII)  # plain decimals only
DEFAULT_BREAKER_RATE = 0.5
DEFAULT_BREAKER_WINDOW = 100
_DECLINES = frozenset(
    {AttemptOutcome.DECLINED, AttemptOutcome.DECLINED_HARD, AttemptOutcome.NEEDS_CUSTOMER}
)


@dataclass(frozen=True, slots=True)
class RunLimits:
    max_total: Mapping[Currency, int] = field(default_factory=dict)  # minor units
    breaker_rate: float = DEFAULT_BREAKER_RATE  # 1.0: never trips
    breaker_window: int = DEFAULT_BREAKER_WINDOW

    @property
    def sample(self) -> int:
        """How many due invoices a bill pass charges first, spread over the whole id
        range, for the breaker to judge the pass by (store.spread): its window, unless
        the breaker is off."""
        return self.breaker_window if self.breaker_rate < 1 else 0


def parse_cap(text: str) -> tuple[Currency, int]:
    """`EUR=50000` or `EUR=50000.00`: a currency and an amount in major units."""
    # Not mutated: with rpartition, a text with two '=' fails on its currency rather than
    # its amount, with the same message quoting the whole text.
    code, sep, amount = text.partition("=")  # pragma: no mutate
    currency = Currency.parse(code.strip().upper())
    if not sep or currency is None or not _AMOUNT.fullmatch(amount):
        raise ValueError(
            f"expected CUR=AMOUNT with a known currency, such as EUR=50000; got {text[:40]!r}"
        )
    # Exact: the pattern admits plain decimals only (no sign, exponent, NaN or infinity),
    # and a Fraction, unlike a Decimal's arithmetic, never rounds a long one.
    minor = Fraction(amount) * 10**currency.minor_digits
    if minor.denominator != 1:
        raise ValueError(
            f"{amount[:40]!r} is not an amount of {currency}: "
            f"at most {words.counted(currency.minor_digits, 'decimal')}"
        )
    if minor >= 2**63:
        raise ValueError(f"{amount[:40]!r} is beyond any cap")
    return currency, int(minor)


class LimitsState:
    """What a pass has reserved and seen, against its limits. Not thread-safe: the
    engine's owner thread calls it."""

    def __init__(self, limits: RunLimits) -> None:
        self._limits = limits
        self._reserved: dict[Currency, int] = {}
        self._holding: set[str] = set()  # the keys whose amounts are reserved
        self._first_charges = 0
        self._tripped = False  # pragma: no mutate - only tested for truth: None reads the same
        self.watching = True  # False: first charges are not counted (handed back ones)
        # invoices whose first charge declined: in the window, and after a trip
        self.declined_first: list[int] = []
        self.decline_codes: dict[str, int] = {}  # what the window's declines said

    def admit(self, attempt: Attempt) -> str | None:
        """Reserve a charge's amount; the reason to stop instead, if it would pass a cap.
        Replays count too: one not found at the provider is sent again, and may move
        money; but a key's amount is reserved once however often it is sent. A replay
        refused stays open for a later pass."""
        money = attempt.invoice.amount
        cap = self._limits.max_total.get(money.currency)
        if cap is None or attempt.key in self._holding:
            return None
        reserved = self._reserved.get(money.currency, 0)
        if reserved + money.minor > cap and attempt.replay:
            return (
                f"run cap: sending key {attempt.key} of invoice {attempt.invoice.id} ({money}) "
                f"again would take this pass past --max-total "
                f"{format_minor(cap, money.currency.value)} "
                f"({format_minor(reserved, money.currency.value)} charged or in doubt so "
                "far); it is looked up only and stays open for a later pass: raise "
                "--max-total for one pass to settle it"
            )
        if reserved + money.minor > cap:
            return (
                f"run cap: charging invoice {attempt.invoice.id} ({money}) would take this "
                f"pass past --max-total {format_minor(cap, money.currency.value)} "
                f"({format_minor(reserved, money.currency.value)} charged or in doubt so "
                "far); it was not sent, and the pass stopped"
            )
        self._reserved[money.currency] = reserved + money.minor
        self._holding.add(attempt.key)
        return None

    def reserved(self, currency: Currency) -> int:
        """What the pass has reserved in `currency`: charged or in doubt so far."""
        return self._reserved.get(currency, 0)

    def answered(self, attempt: Attempt, result: CallResult) -> str | None:
        """Account for an answer; the reason to stop if the breaker trips."""
        if self._limits.max_total:
            self._account(attempt, result.outcome)
        if attempt.replay or attempt.from_status is not InvoiceStatus.PENDING:
            return None  # retries decline often by nature: only first charges count
        if not self.watching:
            return None  # handed back by an earlier trip: judged once already
        outcome = result.outcome
        if self._tripped:
            if outcome in _DECLINES:  # answered after the trip: handed back as well
                self.declined_first.append(attempt.invoice.id)
            return None
        if self._first_charges >= self._limits.breaker_window:
            return None  # the breaker watches the start of a pass only
        self._first_charges += 1
        if outcome in _DECLINES:
            self.declined_first.append(attempt.invoice.id)
            code = result.decline_code or outcome.value
            self.decline_codes[code] = self.decline_codes.get(code, 0) + 1
        limits = self._limits
        if len(self.declined_first) > limits.breaker_rate * limits.breaker_window:
            self._tripped = True
            return self._trip_reason()
        return None

    def _trip_reason(self) -> str:
        limits = self._limits
        said = ", ".join(
            f"{code} {count}"
            for code, count in sorted(self.decline_codes.items(), key=lambda kv: -kv[1])[:5]
        )
        return (
            f"decline-rate breaker: {len(self.declined_first)} of the first "
            f"{words.counted(self._first_charges, 'charge')} declined ({said}), more than "
            f"{limits.breaker_rate:.0%} of {limits.breaker_window}; something is wrong with "
            "the pass, not the customers: every first charge of this pass that declined was "
            "handed back without a dunning step or a notice. The next pass charges them only "
            "after its own fresh first charges pass the breaker; a card that said never is "
            "held for its customer then. If these declines are real, let the next pass go on "
            "(it does not count them again), or raise --breaker-rate for one pass"
        )

    def _account(self, attempt: Attempt, outcome: AttemptOutcome) -> None:
        money = attempt.invoice.amount
        if money.currency not in self._limits.max_total:
            return
        moved_none = outcome is not AttemptOutcome.CHARGED and not outcome.is_open
        if moved_none and attempt.key in self._holding:  # given back, once
            self._holding.discard(attempt.key)
            self._reserved[money.currency] -= money.minor
