from __future__ import annotations

import pytest

from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider import registry
from antaeus_cli.provider.sim import SimSettings, settings_from_spec
from antaeus_cli.provider.spec import parse_spec, redact


def test_a_sim_spec_with_parameters() -> None:
    spec = parse_spec("sim://?latency_ms=50&network_error_rate=0.25&seed=7&ledger=/tmp/x.db")
    assert spec.scheme == "sim"
    assert settings_from_spec(spec).latency_ms == 50
    assert settings_from_spec(spec).network_error_rate == 0.25
    assert settings_from_spec(spec).seed == 7
    assert str(settings_from_spec(spec).ledger) == "/tmp/x.db"
    assert not spec.carries_secrets


def test_the_bare_default_spec() -> None:
    assert settings_from_spec(parse_spec("sim://")) == SimSettings()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("paypal://api", "unknown provider"),
        ("stripe://?api_key=sk_x&api_base=http://example.com", "only on a loopback"),
        ("stripe://?api_key=sk_x&timeout_s=0", "timeout_s"),
        ("stripe://?api_key=sk_x&color=red", "unknown parameter"),
        ("stripe://?api_key=sk_x&api_base=ftp://127.0.0.1", "api_base must be"),
        ("nonsense", "no scheme"),
        ("", "no scheme"),
        ("sim://?latency_ms=-1", "latency_ms"),
        ("sim://?latency_ms=abc", "latency_ms"),
        ("sim://?network_error_rate=1.5", "network_error_rate"),
        ("sim://?network_error_rate=nan", "network_error_rate"),
        ("sim://?seed=x", "seed"),
        ("sim://?colour=blue", "unknown parameter 'colour'"),
        ("sim://?seed=1&seed=2", "repeats"),
        ("sim://?ledger=", "ledger"),
        ("sim://?=&&", "malformed"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(ProviderSpecError, match=fragment):
        settings_from_spec(registry.resolve(text))


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("https://user:hunter2@pay.example.com/v1", "hunter2"),
        ("sim://?api_key=sk_live_123&seed=1", "sk_live_123"),
        ("sim://?seed=1&TOKEN=abc", "abc"),
        ("sim://?client_secret=s3cr3t", "s3cr3t"),
    ],
)
def test_secrets_are_redacted_and_flagged(text: str, hidden: str) -> None:
    spec = parse_spec(text)
    assert spec.carries_secrets
    assert hidden not in spec.redacted()
    assert "***" in spec.redacted()
    assert hidden not in redact(text)


def test_redaction_leaves_harmless_specs_alone() -> None:
    assert redact("sim://?latency_ms=5&seed=3") == "sim://?latency_ms=5&seed=3"


def test_a_key_retention_is_not_a_secret_but_an_api_key_is() -> None:
    spec = parse_spec("stripe://?api_key=sk_live_1&key_retention_h=24")
    assert spec.secret_names == {"api_key"}
    assert spec.redacted() == "stripe://?api_key=***&key_retention_h=24"
