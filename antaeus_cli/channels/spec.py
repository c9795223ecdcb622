"""Notify specs, parsed and checked the way provider specs are:

- `smtp://[USER@]HOST[:PORT]?from=ADDR&operator=ADDR[&starttls=1][&timeout=S]`,
  or `smtps://` for TLS from the first byte. The password comes from `password_file=`
  or, in ANTAEUS_NOTIFY only, from `password=`: never from the command line. AUTH
  without TLS is refused unless `auth_without_tls=loopback` (a relay on this machine)
  or `auth_without_tls=trusted` says why it is safe.
- `maildir://PATH?from=ADDR&operator=ADDR`: PATH relative to the working directory,
  or absolute (`maildir:///srv/antaeus/mail`).
- `webhook://HOST[:PORT]/PATH?secret_file=FILE[&http=1][&timeout=S]`: HTTPS; plain
  HTTP (`http=1`) only to a loopback address, for tests.

Every channel takes `company=NAME`, the name that signs customer e-mails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from antaeus_cli.channels.email import checked_address
from antaeus_cli.channels.maildir import MaildirChannel
from antaeus_cli.channels.port import Channel, Permanent
from antaeus_cli.channels.smtp import SmtpChannel, SmtpSettings
from antaeus_cli.channels.webhook import WebhookChannel, WebhookSettings
from antaeus_cli.credentials import unknown_parameter
from antaeus_cli.errors import NotifySpecError
from antaeus_cli.provider.spec import (
    ProviderSpec,
    int_param,
    is_loopback,
    parse_spec,
    read_secret_files,
)

SCHEMES = ("smtp", "smtps", "maildir", "webhook")
_KNOWN = {
    "smtp": {"from", "operator", "starttls", "timeout", "password", "company", "auth_without_tls"},
    "smtps": {"from", "operator", "timeout", "password", "company"},
    "maildir": {"from", "operator", "company"},
    "webhook": {"secret", "http", "timeout", "company"},
}


@dataclass(frozen=True, slots=True)
class NotifySpec:
    spec: ProviderSpec
    named_company: str | None  # company=, when the spec names it

    def redacted(self) -> str:
        return self.spec.redacted()

    @property
    def sender(self) -> str | None:
        """The e-mail sender (from=); None for a channel that sends events."""
        return None if self.spec.scheme == "webhook" else self.spec.params.get("from")


def parse(text: str) -> ProviderSpec:
    """The spec as written, before any file is read (to ask whether it holds secrets)."""
    return parse_spec(text, label="notify", example="maildir://mail", error=NotifySpecError)


def resolve(text: str) -> NotifySpec:
    """Parse and check a spec fully, reading its secret files, without opening anything."""
    spec = parse(text)
    if spec.scheme not in SCHEMES:
        known = ", ".join(f"{scheme}://" for scheme in SCHEMES)
        raise NotifySpecError(f"unknown notify channel {spec.scheme}://: known are {known}")
    spec = read_secret_files(spec, label="notify", error=NotifySpecError)
    unknown = sorted(set(spec.params) - _KNOWN[spec.scheme])
    if unknown:
        takes = sorted(_KNOWN[spec.scheme])
        raise NotifySpecError(f"notify spec: {unknown_parameter(unknown[0], spec.scheme, takes)}")
    company = " ".join(spec.params.get("company", "").split())[:80]
    resolved = NotifySpec(spec, company or None)
    open_channel(resolved)  # checks every setting; nothing connects until a message goes
    return resolved


def open_channel(notify: NotifySpec) -> Channel:
    """The channel a checked spec names; nothing is connected until the first message."""
    spec = notify.spec
    if spec.scheme == "webhook":
        return WebhookChannel(_webhook(spec), spec.redacted())
    sender = _address(spec, "from", required=True) or ""
    # where run summaries go, crash alerts among them: without it they would go nowhere
    operator = _address(spec, "operator", required=True)
    if spec.scheme == "maildir":
        location = _location(spec.raw)
        if not location.strip("/ "):
            raise NotifySpecError("maildir:// needs a path, e.g. maildir://mail")
        return MaildirChannel(
            Path(location), sender=sender, operator=operator, description=spec.redacted()
        )
    return SmtpChannel(_smtp(spec, sender, operator), spec.redacted())


def _location(raw: str) -> str:
    rest = raw.split("://", 1)[1]
    return rest.split("?", 1)[0]


def _address(spec: ProviderSpec, name: str, *, required: bool) -> str | None:
    value = spec.params.get(name)
    if value is None:
        if required:
            why = _NEEDED_FOR.get(name, "")
            raise NotifySpecError(
                f"{spec.scheme}:// needs {name}=ADDRESS, e.g. {name}=billing@example.com{why}"
            )
        return None
    try:
        return checked_address(value, what=name)
    except Permanent:
        raise NotifySpecError(
            f"notify spec: {name}= is not one plain e-mail address, "
            f"such as {name}=billing@example.com"
        ) from None


_NEEDED_FOR = {
    "operator": (
        ": the operator's address, where run summaries go (crash alerts and held "
        "invoices among them)"
    ),
}


def _host_port(spec: ProviderSpec, default_port: int) -> tuple[str, int]:
    parts = urlsplit(spec.raw)
    try:
        port = default_port if parts.port is None else parts.port
    except ValueError:
        raise NotifySpecError(f"the {spec.scheme}:// spec has a bad port") from None
    if not 0 < port < 65536:
        raise NotifySpecError(
            f"the {spec.scheme}:// spec's port is not one to connect to: use 1 to 65535"
        )
    if not parts.hostname:
        raise NotifySpecError(f"the {spec.scheme}:// spec names no host")
    return parts.hostname, port


def _smtp(spec: ProviderSpec, sender: str, operator: str | None) -> SmtpSettings:
    implicit = spec.scheme == "smtps"
    host, port = _host_port(spec, 465 if implicit else 25)
    parts = urlsplit(spec.raw)
    if parts.path not in ("", "/"):
        raise NotifySpecError(f"{spec.scheme}:// takes no path: {spec.scheme}://[USER@]HOST[:PORT]")
    password = spec.params.get("password")
    if parts.password is not None:
        password = unquote(parts.password)
    starttls = _flag(spec, "starttls")
    timeout = int_param(spec.params, "timeout", 30, 1, 600, error=NotifySpecError)
    user = None if parts.username is None else unquote(parts.username)
    if password is not None and user is None:
        raise NotifySpecError("notify spec gives a password but no user: smtp://USER@HOST")
    if user is not None and not (implicit or starttls):
        _auth_in_clear(spec, host)
    return SmtpSettings(
        host, port, sender, operator, starttls, implicit, user, password, float(timeout)
    )


# What a spec says, in its own word, to let AUTH cross without TLS: the server is on
# this machine (checked), or on a network the operator trusts (their word).
_CLEAR_AUTH = ("loopback", "trusted")


def _auth_in_clear(spec: ProviderSpec, host: str) -> None:
    """AUTH over a connection without TLS sends the password as it is: refused, unless
    the spec says why that is safe."""
    said = spec.params.get("auth_without_tls")
    if said is None:
        raise NotifySpecError(
            "smtp:// with a user sends AUTH, and without TLS the password would cross the "
            "network in clear: add starttls=1, or use smtps://; for a relay on this machine "
            "or a network you trust, say so with auth_without_tls=loopback or "
            "auth_without_tls=trusted"
        )
    if said not in _CLEAR_AUTH:
        raise NotifySpecError("auth_without_tls must be loopback or trusted")
    if said == "loopback" and not is_loopback(host):
        raise NotifySpecError(
            "auth_without_tls=loopback, but the smtp:// host is not a loopback address: "
            "use starttls=1 or smtps://, or auth_without_tls=trusted for a network you trust"
        )


def _webhook(spec: ProviderSpec) -> WebhookSettings:
    plain = _flag(spec, "http")
    host, port = _host_port(spec, 80 if plain else 443)
    if plain and not is_loopback(host):
        raise NotifySpecError(
            "webhook:// sends plain HTTP (http=1) only to a loopback address, and its host is not"
        )
    secret = spec.params.get("secret")
    if not secret:
        raise NotifySpecError("webhook:// needs secret_file=FILE, the shared signing secret")
    path = urlsplit(spec.raw).path or "/"
    timeout = int_param(spec.params, "timeout", 30, 1, 600, error=NotifySpecError)
    return WebhookSettings(host, port, path, secret.encode(), not plain, float(timeout))


def _flag(spec: ProviderSpec, name: str) -> bool:
    value = spec.params.get(name, "0")
    if value not in {"0", "1"}:
        raise NotifySpecError(f"{name} must be 0 or 1")
    return value == "1"
