"""The settings of `stripe://`, read from its spec and checked before anything is
claimed (a dry run's included)."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from urllib.parse import urlsplit

from antaeus_cli.credentials import credential_problem, unknown_parameter
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider.spec import ProviderSpec, int_param, is_loopback
from antaeus_cli.provider.stripe_wire import TRANSPORTS

PARAMETERS = ("api_key", "api_base", "timeout_s", "key_retention_h", "transport")
DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_RETENTION_H = 24  # Stripe keeps a key for at least 24 hours


class StripeSettings:
    def __init__(self, spec: ProviderSpec) -> None:
        unknown = sorted(set(spec.params) - set(PARAMETERS))
        if unknown:
            raise ProviderSpecError(unknown_parameter(unknown[0], "stripe", PARAMETERS))
        self.transport = spec.params.get("transport", "http")
        if self.transport not in TRANSPORTS:
            raise ProviderSpecError(f"transport must be one of {', '.join(TRANSPORTS)}")
        needs = "stripe" if self.transport == "sdk" else "urllib3"
        if importlib.util.find_spec(needs) is None:
            raise ProviderSpecError(
                f"stripe:// needs the {needs} package: pip install 'antaeus-cli[stripe]'"
            )
        key = spec.params.get("api_key", "")
        if not key.strip():
            raise ProviderSpecError(
                "stripe:// needs an API key: api_key=... in ANTAEUS_PROVIDER, or "
                "api_key_file=PATH (a file holding the key)"
            )
        self.api_key = key.strip()
        # the spec's parser checks it too
        problem = credential_problem(self.api_key, one_word=True)
        if problem:
            raise ProviderSpecError(f"api_key {problem}")
        self.api_base = _api_base(spec.params.get("api_base", DEFAULT_API_BASE))
        self.timeout_s = int_param(spec.params, "timeout_s", 30, 1, 300)
        self.retention = timedelta(
            hours=int_param(spec.params, "key_retention_h", DEFAULT_RETENTION_H, 1, 24)
        )


def settings_from_spec(spec: ProviderSpec) -> StripeSettings:
    return StripeSettings(spec)


def _api_base(text: str) -> str:
    refusal = ProviderSpecError(f"api_base must be a URL such as {DEFAULT_API_BASE}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a port that is no number raises here, not later
    except ValueError:
        raise refusal from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.path not in ("", "/"):
        raise refusal
    if parts.username is not None or parts.query or parts.fragment:
        raise ProviderSpecError(
            "api_base takes a scheme, a host and a port only: the key goes in api_key"
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ProviderSpecError("api_base may use plain http only on a loopback address")
    return text.rstrip("/")
