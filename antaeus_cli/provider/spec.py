"""Provider specs: URL-like strings such as `sim://?latency_ms=50&seed=7`. Notify
specs are parsed here too.

Specs may carry credentials (a password in the URL, or a parameter named like a
key or token). Those are hidden wherever a spec is shown or stored (see
`antaeus_cli.credentials`), and are refused on the command line, where any user on
the machine can read them in `ps`. An error about a spec names the parameter at
fault and never quotes the spec or a value.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import stat
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from antaeus_cli.credentials import (
    ENCODING_HINT,
    FILE_SUFFIX,
    REDACTED,
    called,
    credential_problem,
    described,
    is_password_name,
    is_secret_name,
    several,
)
from antaeus_cli.errors import InputError, ProviderSpecError

DEFAULT_SPEC = "sim://"
MAX_SECRET_FILE = 64 * 1024  # bytes: a credential file holds one credential
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_USERINFO_HINT = "a '/', '?' or '#' in a user name or password is written %2F, %3F or %23"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    scheme: str
    params: dict[str, str]  # names and values percent-decoded; files read once resolved
    secret_names: frozenset[str]  # parameters that hold a credential themselves
    has_password: bool
    raw: str  # as written, for the host and path a scheme reads itself; never shown
    shown: str  # as shown: every credential, and every file holding one, as ***

    @property
    def carries_secrets(self) -> bool:
        return self.has_password or bool(self.secret_names)

    def redacted(self) -> str:
        """The spec with every credential replaced by ***, safe for logs and the run table."""
        return self.shown


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
    if "#" in stripped:
        raise error(f"the {label} spec holds a '#', which would end it there: {ENCODING_HINT}")
    try:
        parts = urlsplit(stripped)
        parts.port  # noqa: B018 - a port that is no number raises here, not later
    except ValueError:
        raise error(
            f"the {label} spec is not a URL like {example!r}: its host part is malformed "
            f"(a '[' left open, or a port that is no number from 0 to 65535; {_USERINFO_HINT})"
        ) from None
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.match(scheme):
        raise error(f"the {label} spec has no scheme: use one like {example!r}")
    if "@" in parts.path:
        raise error(f"the {label} spec has an '@' after its host: {_USERINFO_HINT}")
    _check_userinfo(parts, label, error)
    params = _query(parts.query, label, error)
    secrets = frozenset(
        name for name in params if is_secret_name(name) and not name.endswith(FILE_SUFFIX)
    )
    for name in sorted(secrets):
        problem = credential_problem(params[name], one_word=not is_password_name(name))
        if problem:
            raise error(f"{called(name)} in the {label} spec {problem}")
    shown = described(scheme, _location(parts), params)
    return ProviderSpec(scheme, params, secrets, parts.password is not None, stripped, shown)


def _check_userinfo(parts: SplitResult, label: str, error: type[InputError]) -> None:
    for what, value in (("user name", parts.username), ("password", parts.password)):
        problem = None if value is None else credential_problem(unquote(value))
        if problem:
            raise error(f"the {what} in the {label} spec {problem}")


def _query(query: str, label: str, error: type[InputError]) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise error(
            f"the {label} spec has a malformed query: use name=value&name=value ({ENCODING_HINT})"
        ) from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise error(f"the {label} spec repeats {called(name)}")
        params[name] = value
    return params


def _location(parts: SplitResult) -> str:
    """Host and path as written, a password replaced by ***. A user name is kept only
    beside a password (an account's name, as for SMTP); alone, or beside an empty
    password, it is hidden too: that is how Stripe's own convention writes a key
    (`sk_...:@host`)."""
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0] if parts.password else ""
        netloc = f"{user}:{REDACTED}@{host}" if user else f"{REDACTED}@{host}"
    return netloc + parts.path


def read_secret_files(
    spec: ProviderSpec, *, label: str = "provider", error: type[InputError] = ProviderSpecError
) -> ProviderSpec:
    """`NAME_file=PATH` reads the credential NAME from PATH, e.g. a mounted secret.

    A path is not a secret, so a spec that names its credentials by file may be
    given on the command line; the credential itself never is. The file holds the
    credential alone, on one line; whitespace around it is not part of it.
    """
    params = dict(spec.params)
    for name, path in spec.params.items():
        if not name.endswith(FILE_SUFFIX):
            continue
        target = name.removesuffix(FILE_SUFFIX)
        if target in params:
            raise error(f"the {label} spec gives both {called(target)} and {called(name)}")
        params[target] = _read_secret(
            path, called(name), error, one_word=not is_password_name(target)
        )
        del params[name]
    secrets = spec.secret_names | {n for n in params if is_secret_name(n)}
    return ProviderSpec(
        spec.scheme, params, frozenset(secrets), spec.has_password, spec.raw, spec.shown
    )


def _read_secret(path: str, name: str, error: type[InputError], *, one_word: bool) -> str:
    try:
        data = _read_regular(path)
        text = data.decode("utf-8").strip()
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL byte
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise error(f"cannot read the file named by {name}: {reason}") from None
    if len(data) > MAX_SECRET_FILE:
        raise error(
            f"the file named by {name} is over {MAX_SECRET_FILE // 1024} KiB: it must hold the "
            "credential alone"
        )
    problem = credential_problem(text, one_word=one_word)
    if problem:
        rotation = (
            "; during a key rotation, point the spec at the file of the key in use"
            if several(text)
            else ""
        )
        raise error(
            f"the file named by {name} {problem}: it must hold the credential alone{rotation}"
        )
    return text


def _read_regular(path: str) -> bytes:
    """At most MAX_SECRET_FILE + 1 bytes of a regular file. Opened without blocking, so a
    FIFO with no writer (or a device) is refused at once, never waited on."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            return file.read(MAX_SECRET_FILE + 1)
    finally:
        os.close(descriptor)


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
        raise error(f"{name} must be a whole number from {low} to {high}")
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine: where plain HTTP is allowed, for tests."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
