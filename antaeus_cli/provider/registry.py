"""Turning a provider spec into a provider adapter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.failpoints import NONE, Failpoints
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.provider.sim import SimProvider
from antaeus_cli.provider.spec import ProviderSpec, parse_spec

Factory = Callable[[ProviderSpec, Path, Failpoints], PaymentProvider]

_FACTORIES: dict[str, Factory] = {
    "sim": SimProvider.from_spec,
}


def known_schemes() -> list[str]:
    return [f"{scheme}://" for scheme in sorted(_FACTORIES)]


def resolve(text: str) -> ProviderSpec:
    """Parse a spec and check that some adapter serves its scheme."""
    spec = parse_spec(text)
    if spec.scheme not in _FACTORIES:
        raise ProviderSpecError(
            f"unknown provider {spec.redacted()!r}: known schemes are {', '.join(known_schemes())}"
        )
    return spec


def open_provider(
    spec: ProviderSpec, *, db_path: Path, failpoints: Failpoints = NONE
) -> PaymentProvider:
    return _FACTORIES[spec.scheme](spec, db_path, failpoints)
