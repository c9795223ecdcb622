from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antaeus_cli.credentials import REDACTED, is_password_name, is_secret_name
from antaeus_cli.errors import ProviderSpecError
from antaeus_cli.provider import registry
from antaeus_cli.provider.sim import SimSettings, settings_from_spec
from antaeus_cli.provider.spec import parse_spec


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


def test_redaction_leaves_harmless_specs_alone() -> None:
    text = "sim://?latency_ms=5&seed=3&ledger=/tmp/x.db"
    assert parse_spec(text).redacted() == text


def test_a_key_retention_is_not_a_secret_but_an_api_key_is() -> None:
    spec = parse_spec("stripe://?api_key=sk_live_1&key_retention_h=24")
    assert spec.secret_names == {"api_key"}
    assert spec.redacted() == "stripe://?api_key=***&key_retention_h=24"


@pytest.mark.parametrize(
    "name", ["api_key", "api_ke%79", "%61pi_key", "api%5Fkey", "api%5fkey", "%61%70%69%5F%6B%65%79"]
)
def test_a_secret_is_hidden_by_its_decoded_name(name: str) -> None:
    spec = parse_spec(f"sim://?{name}=sk_test_4f9a&seed=1")
    assert spec.secret_names == {"api_key"}
    assert spec.params["api_key"] == "sk_test_4f9a"
    assert spec.redacted() == "sim://?api_key=***&seed=1"


def test_a_url_password_is_hidden_and_its_user_kept() -> None:
    spec = parse_spec(
        "smtp://billing:pa%2Fss@mail.example.com:587?from=a@example.com&operator=ops@example.com"
    )
    assert spec.has_password
    assert (
        spec.redacted()
        == "smtp://billing:***@mail.example.com:587?from=a@example.com&operator=ops@example.com"
    )


def test_a_name_the_c_locale_could_not_decode_is_shown_as_utf_8() -> None:
    """Under LC_ALL=C, `ledger=ü.db` arrives as surrogate escapes of its UTF-8 bytes."""
    spec = parse_spec("sim://?ledger=\udcc3\udcbc.db&seed=1")
    assert spec.redacted() == "sim://?ledger=ü.db&seed=1"
    spec.redacted().encode("utf-8")  # a database column can hold it


NAMES = ["seed", "ledger", "latency_ms", "company", "api_key", "token", "password", "api key"]
CREDENTIAL = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
# A key (any credential but a password) is one word: two are refused, not shown.
KEY = CREDENTIAL.filter(lambda value: len(value.split()) <= 1)


@settings(max_examples=60)
@given(st.dictionaries(st.sampled_from(NAMES), st.text(max_size=12)), st.data())
def test_a_spec_is_shown_as_its_decoded_parameters_with_every_secret_hidden(
    params: dict[str, str], data: st.DataObject
) -> None:
    for name in params:
        if is_secret_name(name):
            params[name] = data.draw(CREDENTIAL if is_password_name(name) else KEY)
    text = "sim://?" + urlencode(params, quote_via=quote)
    shown = parse_spec(text).redacted()
    expected = {name: REDACTED if is_secret_name(name) else v for name, v in params.items()}
    assert parse_spec(shown).params == expected


@pytest.mark.parametrize(
    "spec",
    [
        "stripe://sk_test_Zq9Xw7Vv5Uu3Tt1:@127.0.0.1:9?api_key_file=k",  # Stripe's curl form
        "sim://sk_test_Zq9Xw7Vv5Uu3Tt1@x",
        "stripe://sk_test_Zq9Xw7Vv5Uu3Tt1@127.0.0.1:9",
    ],
)
def test_a_user_part_without_a_password_is_hidden_whole(spec: str) -> None:
    shown = parse_spec(spec).redacted()
    assert "Zq9Xw7" not in shown
    assert "***@" in shown
