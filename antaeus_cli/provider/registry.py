"""Turning a provider spec into a provider adapter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.failpoints import NONE, Failpoints
from antaeus_cli.provider import sim, stripe_api
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.provider.spec import ProviderSpec, parse_spec, read_secret_files


class Adapter(NamedTuple):
    validate: Callable[[ProviderSpec], object]  # raises ProviderSpecError
    open: Callable[[ProviderSpec, Path, Failpoints], PaymentProvider]


_ADAPTERS: dict[str, Adapter] = {
    "sim": Adapter(sim.settings_from_spec, sim.SimProvider.from_spec),
    "stripe": Adapter(stripe_api.settings_from_spec, stripe_api.StripeProvider.from_spec),
}


def known_schemes() -> list[str]:
    return [f"{scheme}://" for scheme in sorted(_ADAPTERS)]


def resolve(text: str) -> ProviderSpec:
    """Parse a spec and check it fully, so even a dry run refuses a broken one."""
    spec = parse_spec(text)
    adapter = _ADAPTERS.get(spec.scheme)
    if adapter is None:
        raise ProviderSpecError(
            f"unknown provider {spec.redacted()!r}: known schemes are {', '.join(known_schemes())}"
        )
    spec = read_secret_files(spec)
    adapter.validate(spec)
    return spec


def open_provider(
    spec: ProviderSpec, *, db_path: Path, failpoints: Failpoints = NONE
) -> PaymentProvider:
    return _ADAPTERS[spec.scheme].open(spec, db_path, failpoints)
