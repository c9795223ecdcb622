"""Turning a provider spec into a provider adapter.

Each adapter's module is imported only when its scheme is used, so `--help` and a
`sim://` pass never load the Stripe transport, nor the simulator a `stripe://` one.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from antaeus_cli.domain.money import Money
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.failpoints import NONE, Failpoints
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.provider.spec import ProviderSpec, parse_spec, read_secret_files
from antaeus_cli.provider.stripe_objects import refused_unsent as stripe_refused_unsent


class Adapter(NamedTuple):
    validate: Callable[[ProviderSpec], object]  # raises ProviderSpecError
    # the spec, the database's path, failpoints, and the pass's stop event (None: none)
    open: Callable[[ProviderSpec, Path, Failpoints, threading.Event | None], PaymentProvider]


# scheme -> (module, provider class); each module has a settings_from_spec(spec).
_MODULES: dict[str, tuple[str, str]] = {
    "sim": ("antaeus_cli.provider.sim", "SimProvider"),
    "stripe": ("antaeus_cli.provider.stripe_api", "StripeProvider"),
}


def _adapter(scheme: str) -> Adapter | None:
    found = _MODULES.get(scheme)
    if found is None:
        return None
    module = importlib.import_module(found[0])
    return Adapter(module.settings_from_spec, getattr(module, found[1]).from_spec)


# What a provider answers, without a request, to a charge of an amount it never takes
RefusedUnsent = Callable[[Money], Answer | None]


def refused_unsent(spec: ProviderSpec) -> RefusedUnsent | None:
    """The amounts the spec's provider refuses before anything is sent (Stripe's special
    cases), for a dry run to hold them as the pass does; None: it refuses none."""
    return stripe_refused_unsent if spec.scheme == "stripe" else None


def known_schemes() -> list[str]:
    return [f"{scheme}://" for scheme in sorted(_MODULES)]


def resolve(text: str) -> ProviderSpec:
    """Parse a spec and check it fully, so even a dry run refuses a broken one."""
    spec = parse_spec(text)
    adapter = _adapter(spec.scheme)
    if adapter is None:
        raise ProviderSpecError(
            f"unknown provider {spec.scheme}://: known schemes are {', '.join(known_schemes())}"
        )
    _nowhere_else(spec)
    spec = read_secret_files(spec)
    adapter.validate(spec)
    return spec


def _nowhere_else(spec: ProviderSpec) -> None:
    """No provider reads a host, a path or a user from its spec: each is told where it
    is by a parameter (stripe's api_base, sim's ledger). Ignored, they would send the
    charges elsewhere than the operator meant (stripe://127.0.0.1:9 to api.stripe.com),
    so they are refused, never quoted (a user part may be a key)."""
    parts = urlsplit(spec.raw)
    if parts.netloc or parts.path not in ("", "/"):
        raise ProviderSpecError(
            f"{spec.scheme}:// reads no host, path or user name from its spec, which "
            "would be ignored: write SCHEME://?name=value&... (where it is goes in a "
            "parameter: stripe's api_base=URL, sim's ledger=PATH; a key in api_key= "
            "or api_key_file=PATH)"
        )


def open_provider(
    spec: ProviderSpec,
    *,
    db_path: Path,
    failpoints: Failpoints = NONE,
    stop: threading.Event | None = None,
) -> PaymentProvider:
    """The provider of `spec`. Once `stop` is set, it sends no new request, and cuts one
    still in flight after a moment's grace (see `provider.port`)."""
    adapter = _adapter(spec.scheme)
    if adapter is None:
        raise ProviderSpecError(f"unknown provider {spec.scheme}://")
    return adapter.open(spec, db_path, failpoints, stop)
