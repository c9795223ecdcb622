"""Provider specs: URL-like strings such as `sim://?latency_ms=50&seed=7`.

Specs may carry credentials (a password in the URL, or a parameter named like a
key or token). Those are redacted wherever a spec is shown or stored, and are
refused on the command line, where any user on the machine can read them in `ps`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlsplit

from antaeus_cli.errors import InputError, ProviderSpecError

DEFAULT_SPEC = "sim://"
FILE_SUFFIX = "_file"
REDACTED = "***"
_SECRET_NAME = re.compile(r"(key|secret|token|password|passwd|credential|auth)", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
# Parameters whose names look secret but hold none: how long a provider keeps a key.
NOT_SECRET = frozenset({"key_retention_h"})


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and name not in NOT_SECRET


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    scheme: str
    params: dict[str, str]
    secret_names: frozenset[str]
    has_password: bool
    raw: str

    @property
    def carries_secrets(self) -> bool:
        return self.has_password or bool(self.secret_names)

    def redacted(self) -> str:
        """The spec with every credential replaced by ***, safe for logs and the run table."""
        return redact(self.raw)


def parse_spec(
    text: str,
    *,
    label: str = "provider",
    example: str = "sim://",
    error: type[InputError] = ProviderSpecError,
) -> ProviderSpec:
    """A spec, parsed; `label`, `example` and `error` say whose spec it is (the
    provider's, or the notification channel's)."""
    stripped = text.strip()
    try:
        parts = urlsplit(stripped)
        parts.port  # noqa: B018 - a port that is no number raises here, not later
    except ValueError as exc:
        raise error(f"{label} spec {redact(stripped)!r} is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.match(scheme):
        raise error(f"{label} spec {redact(stripped)!r} has no scheme: use one like {example!r}")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise error(
            f"{label} spec {redact(stripped)!r} has a malformed query: use name=value&name=value"
        ) from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise error(f"{label} spec repeats the parameter {name!r}")
        params[name] = value
    secrets = frozenset(
        name for name in params if _is_secret_name(name) and not name.endswith(FILE_SUFFIX)
    )
    return ProviderSpec(scheme, params, secrets, parts.password is not None, stripped)


def read_secret_files(
    spec: ProviderSpec, *, label: str = "provider", error: type[InputError] = ProviderSpecError
) -> ProviderSpec:
    """`NAME_file=PATH` reads the credential NAME from PATH, e.g. a mounted secret.

    A path is not a secret, so a spec that names its credentials by file may be
    given on the command line; the credential itself never is.
    """
    params = dict(spec.params)
    for name, path in spec.params.items():
        if not name.endswith(FILE_SUFFIX):
            continue
        target = name.removesuffix(FILE_SUFFIX)
        if target in params:
            raise error(f"{label} spec gives both {target!r} and {name!r}")
        try:
            params[target] = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL byte
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise error(f"cannot read {name}={path!r}: {reason}") from None
        del params[name]
    secrets = spec.secret_names | {n for n in params if _is_secret_name(n)}
    return ProviderSpec(spec.scheme, params, frozenset(secrets), spec.has_password, spec.raw)


def redact(text: str) -> str:
    """Hide a URL password and the values of secret-looking parameters."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:  # not a URL at all: no password part to find, hide the rest alike
        return re.sub(r"(?<=[:/])[^:/@]*@", f"{REDACTED}@", _redact_params(text))
    if password is not None:
        host = parts.hostname or ""
        port = f":{parts.port}" if _has_valid_port(parts) else ""
        user = parts.username or ""
        text = text.replace(parts.netloc, f"{user}:{REDACTED}@{host}{port}", 1)
    return _redact_params(text)


def _redact_params(text: str) -> str:
    return re.sub(
        r"(?P<name>[^?&=]*(?:key|secret|token|password|passwd|credential|auth)[^?&=]*)=[^&]*",
        lambda m: m.group(0) if m.group("name") in NOT_SECRET else f"{m.group('name')}={REDACTED}",
        text,
        flags=re.IGNORECASE,
    )


def _has_valid_port(parts: SplitResult) -> bool:
    try:
        return parts.port is not None
    except ValueError:
        return False


def int_param(
    params: dict[str, str],
    name: str,
    default: int,
    low: int,
    high: int,
    *,
    error: type[InputError] = ProviderSpecError,
) -> int:
    """A whole-number parameter of a spec, within bounds, or a one-line refusal."""
    text = params.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise error(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine: where plain HTTP is allowed, for tests."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
