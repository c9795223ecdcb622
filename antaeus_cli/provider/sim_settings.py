"""The settings of `sim://`, read from its spec: its latency, the shares of requests
that fail and how, its seed, and where its books are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from antaeus_cli.credentials import unknown_parameter
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider.sim_ledger import default_ledger_path
from antaeus_cli.provider.spec import ProviderSpec, int_param

# api_key is accepted and never checked: the simulator does not authenticate, but
# deployments can rehearse passing a credential through ANTAEUS_PROVIDER or a file.
_RATES = (
    "network_error_rate",
    "rate_limit_rate",
    "hard_decline_rate",
    "needs_customer_rate",
    "processing_rate",
)
PARAMETERS = ("latency_ms", *_RATES, "seed", "ledger", "api_key", "key_retention_h")
MAX_LATENCY_MS = 60_000
MAX_RETENTION_H = 24 * 365


@dataclass(frozen=True, slots=True)
class SimSettings:
    latency_ms: int = 0
    network_error_rate: float = 0.0  # probabilities, never money: floats are fine
    seed: int | None = None
    ledger: Path | None = None  # None: next to the database; Path(":memory:"): in memory
    rate_limit_rate: float = 0.0
    hard_decline_rate: float = 0.0
    needs_customer_rate: float = 0.0
    processing_rate: float = 0.0
    key_retention_h: int | None = None  # None: keys are never forgotten

    @property
    def twists(self) -> bool:
        return bool(self.hard_decline_rate or self.needs_customer_rate or self.processing_rate)


def settings_from_spec(spec: ProviderSpec) -> SimSettings:
    unknown = sorted(set(spec.params) - set(PARAMETERS))
    if unknown:
        raise ProviderSpecError(unknown_parameter(unknown[0], "sim", PARAMETERS))
    params = spec.params
    latency = int_param(params, "latency_ms", 0, 0, MAX_LATENCY_MS)
    rates = {name: _rate_param(params, name) for name in _RATES}
    if sum(rates[name] for name in _RATES[2:]) > 1.0:
        raise ProviderSpecError(
            "hard_decline_rate, needs_customer_rate and processing_rate add up to more than 1"
        )
    seed = int_param(params, "seed", 0, 0, 2**63 - 1) if "seed" in params else None
    ledger_text = params.get("ledger")
    if ledger_text is not None and not ledger_text:
        raise ProviderSpecError("ledger= needs a path, or :memory:")
    retention = (
        int_param(params, "key_retention_h", 1, 1, MAX_RETENTION_H)
        if "key_retention_h" in params
        else None
    )
    return SimSettings(
        latency,
        seed=seed,
        ledger=Path(ledger_text) if ledger_text else None,
        key_retention_h=retention,
        **rates,
    )


def _rate_param(params: dict[str, str], name: str) -> float:
    text = params.get(name, "0")
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ProviderSpecError(f"{name} must be a number from 0 to 1")
    return rate


def ledger_path(settings: SimSettings, db_path: Path) -> Path:
    return settings.ledger if settings.ledger is not None else default_ledger_path(db_path)
