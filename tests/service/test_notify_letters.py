"""The company's own words: templates in a sandbox, the customer's language and formats,
branding on every e-mail, a template that fails refused before a notice is claimed."""

from __future__ import annotations

import email
import email.policy
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antaeus_cli.channels.email import build
from antaeus_cli.domain.currencies import MINOR_DIGITS
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.errors import TemplatesError
from antaeus_cli.notify import branding
from antaeus_cli.notify.branding import Branding
from antaeus_cli.notify.letters import CUSTOMER_KINDS, Letters, TemplateFailure
from antaeus_cli.notify.messages import message_for
from antaeus_cli.notify.results import NotifyResult
from antaeus_cli.notify.specimens import check_templates, open_letters, specimen
from tests.fakes import DECLINED, FakeChannel, FakeProvider

Notify = Callable[..., NotifyResult]
Sql = Callable[..., list[tuple[Any, ...]]]
SHIPPED = ("en", "da", "sv", "de")
BRANDED = Branding(
    company="Øresund ApS",
    address=("Vesterbrogade 1", "1620 København V"),
    sender_name="Øresund Billing",
    reply_to="help@example.com",
    payment_url="https://billing.example.com/update?customer={customer_ref}&i={invoice_id}",
    locale="en-GB",
)
LETTERS = Letters(BRANDED)
EARLIEST, LATEST = datetime(2000, 1, 1), datetime(2090, 1, 1)  # noqa: DTZ001 - naive bounds
ZONES = ["Europe/Copenhagen", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns", None]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(CUSTOMER_KINDS),
    locale=st.sampled_from([*SHIPPED, "da-DK", "sv-SE", "de-AT", "en-US", "fr-FR", "xx-YY", None]),
    currency=st.sampled_from(sorted(MINOR_DIGITS)),
    amount=st.integers(1, 10**12),
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(EARLIEST, LATEST, timezones=st.just(UTC)),
    reference=st.one_of(st.none(), st.text(max_size=40)),
    code=st.sampled_from([None, "insufficient_funds", "lost_card", "authentication_required"]),
    tries=st.integers(1, 9),
)
def test_every_kind_in_every_locale_is_one_well_formed_e_mail_to_one_recipient(
    kind: NoticeKind,
    locale: str | None,
    currency: str,
    amount: int,
    zone: str | None,
    moment: datetime,
    reference: str | None,
    code: str | None,
    tries: int,
) -> None:
    notice = specimen(
        kind,
        amount=amount,
        currency=currency,
        decline=(code, "hard" if code == "lost_card" else "soft"),
        next_retry_on=moment.date(),
        tries=tries,
        reference=reference,
        zone=zone,
        locale=locale,
        at=moment,
    )
    message = message_for(notice, "email", LETTERS)
    raw = build(message, sender="billing@example.com", recipient="c@example.com").as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert not parsed.defects
    assert [a.addr_spec for a in parsed["To"].addresses] == ["c@example.com"]
    assert parsed["Cc"] is None
    assert parsed["Bcc"] is None
    assert parsed["From"].addresses[0].display_name == "Øresund Billing"
    assert str(parsed["Reply-To"]) == "help@example.com"
    subject = str(parsed["Subject"])
    assert subject
    assert "\n" not in subject
    assert "\r" not in subject
    parts = [part.get_content_type() for part in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Øresund ApS" in text
    assert "Øresund ApS" in page
    assert "<script" not in page.lower()
    assert str(notice.invoice_id) in subject


def test_a_danish_customer_is_written_to_in_danish_with_danish_amounts_and_dates() -> None:
    notice = specimen(
        NoticeKind.PAYMENT_FAILED,
        amount=123456,
        currency="DKK",
        next_retry_on=date(2026, 12, 4),
        locale="da-DK",
        customer_ref="cus_Æ/1",
    )
    mail = LETTERS.render(notice)
    assert mail.subject == "Betalingen for faktura 1001 blev afvist"
    assert "1.234,56 kr." in mail.text
    assert "den 1. december 2026" in mail.text
    assert "Vi prøver igen den 4. december 2026" in mail.text
    assert "der var ikke penge nok på kortet" in mail.text
    # the link, each value percent-encoded: a customer id cannot reshape the URL
    assert "https://billing.example.com/update?customer=cus_%C3%86%2F1&i=1001" in mail.text
    assert 'lang="da-DK"' in mail.html


def test_a_language_no_template_is_in_is_written_in_the_company_s() -> None:
    for locale in ("fr-FR", "xx-YY", "../../etc", None):
        mail = LETTERS.render(specimen(NoticeKind.RECEIPT, amount=123456, currency="EUR",
                                       locale=locale))  # fmt: skip
        assert mail.subject == "Receipt for invoice 1001: €1,234.56", locale
        assert "on 1 December 2026" in mail.text  # en-GB, the company's


def test_no_link_when_the_customer_has_no_provider_id() -> None:
    notice = specimen(NoticeKind.ACTION_REQUIRED, amount=100, currency="EUR", customer_ref=None)
    mail = LETTERS.render(notice)
    assert "https://" not in mail.text
    assert "href" not in mail.html


def test_a_hard_decline_never_says_why_in_any_language() -> None:
    for language in SHIPPED:
        notice = specimen(NoticeKind.ACTION_REQUIRED, amount=100, currency="EUR",
                          decline=("stolen_card", "hard"), locale=language)  # fmt: skip
        text = LETTERS.render(notice).text.lower()
        assert "stolen" not in text
        assert "stjålet" not in text
        assert "gestohlen" not in text


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_an_operator_template_overrides_one_file_and_a_typo_is_found_with_its_line(
    tmp_path: Path,
) -> None:
    write(tmp_path, "da/receipt.subject", "Tak for betalingen, faktura {{ invoice_id }}")
    letters = open_letters(tmp_path)
    mail = letters.render(specimen(NoticeKind.RECEIPT, amount=100, currency="DKK", locale="da"))
    assert mail.subject == "Tak for betalingen, faktura 1001"
    assert "Tak: vi har modtaget din betaling" in mail.text  # the built-in body still

    write(tmp_path, "da/receipt.txt", '{% extends "layout.txt" %}\n{% block body %}\n'
          "{{ amont }}\n{% endblock %}\n")  # fmt: skip
    checked = check_templates(tmp_path)
    assert checked.problems == ["da: da/receipt.txt, line 3: 'amont' is undefined"]
    with pytest.raises(TemplatesError, match="amont"):
        open_letters(tmp_path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ 'x' * 1000000000 }}", "may not build"),
        ("{{ 2 ** 100000 }}", "power"),
        ("{% for i in range(10**9) %}{% endfor %}", "a count over 100000"),
        ("{{ invoice_id / 0 }}", "TypeError"),
        ("{% if %}", "line 1"),
        ("{{ (9**64**64**64) is number }}", "power"),
        ('{{ "%0500000000d"|format(1) }}', "may not pad"),
        ('{{ "%0999999999d" % 1 }}', "may not pad"),
        ('{{ "{:>999999999}".format(1) }}', "may not pad"),
        ('{{ "x"|center(999999999) }}', "more than 100000"),
        ('{{ range(100000)|join("y" * 100000) }}', "more than 100000"),
        ('{{ ("a\n" * 50000)|indent(width=99999)|length }}', "more than 100000"),
        ('{{ ("x" * 1000)|replace("x", "y" * 1000) }}', "more than 100000"),
        ("{% set l = [range(1000)|list] %}{{ (l * 4000)|sum(start=[])|length }}", "more than"),
        ("{{ [[1], [2]]|sum(start=[]) }}", "numbers only"),
        ('{{ [1]|slice(10000000, "x")|list|length }}', "more than 100000"),
        ('{{ "%(a)999999999d" % {"a": 1} }}', "may not pad"),
        ('{{ "%(a).999999999d" % {"a": 1} }}', "may not pad"),
        ('{{ "%.999999999f" % 1.0 }}', "may not pad"),
        ('{{ "%.999999999f"|format(1.0) }}', "may not pad"),
        ('{{ (["x" * 100000] * 1000)|join|length }}', "more than 100000"),
        ('{{ ",".join(["x" * 100000] * 1000)|length }}', "more than 100000"),
        (
            '{{ (["x" * 100000] * 100000) in ([["x" * 100000] * 99999 + ["y"]] * 100000) }}',
            "more than 100000",
        ),
        ('{{ ([["x" * 1000] * 100, ["x" * 1000] * 100] * 50)|sort|length }}', "more than 100000"),
        ('{{ ["x" * 100000] * 100000 }}', "more than 100000"),
        ('{{ [["x" * 1000] * 1000]|string }}', "more than 100000"),
        (
            '{% set ns = namespace(a=["x"]) %}{% for i in range(40) %}{% set ns.a = ns.a + ns.a %}'
            "{% endfor %}",
            "more than 100000",
        ),
        (
            '{% set ns = namespace(a="x") %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}'
            "{% endfor %}",
            "more than 100000",
        ),
        (
            '{% set ns = namespace(l="x" * 50000) %}{% for i in range(20) %}'
            "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
            "more than 100000",
        ),
        (
            '{% set a = "x" * 50000 %}{% set b = (a, a) %}{% set c = (b, b) %}{% if c == c %}y'
            "{% endif %}",
            "more than 100000",
        ),
        (
            '{% set a = "x" * 100000 %}{% for i in range(100000) %}{{ a }}{% endfor %}',
            "more than 200000",
        ),
        (
            '{% macro m() %}{% for i in range(100000) %}{{ "x" * 100000 }}{% endfor %}'
            "{% endmacro %}{{ m()|length }}",
            "in one notice",
        ),
        (
            '{% set ns = namespace(l="x" * 60000) %}{% set ns.m = [ns.l, ns.l] %}{{ ns }}',
            "more than 100000",
        ),
        (
            '{% set d = {} %}{% set _ = d.update(a="x" * 100000) %}{% set v = d.values() %}'
            "{{ [v] * 33000 }}",
            "more than 100000",
        ),
        (
            "{% set ns = namespace(n=3, h=0) %}{% for i in range(22) %}{% set ns.h = ns.n %}"
            "{% set ns.n = ns.n * ns.n %}{% endfor %}{% set ns.q = ns.n // (ns.h + 1) %}x",
            "past 256 bits",
        ),
        ('{{ (1).to_bytes(1000000000, "big")|length }}', "a count over 100000"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "took longer than 2 s",
        ),
    ],
)
def test_the_sandbox_refuses_what_a_template_must_not_do(
    tmp_path: Path, text: str, why: str
) -> None:
    write(tmp_path, "en/receipt.subject", text)
    problems = check_templates(tmp_path).problems
    assert problems, text
    assert why in problems[0], problems


@pytest.mark.parametrize(
    ("toml", "why"),
    [
        ('reply_too = "a@example.com"', "unknown key 'reply_too'"),
        ('payment_url = "http://billing.example.com/{customer_id}"', "https://"),
        ('payment_url = "https://x.example.com/{email}"', "{email}"),
        ('payment_url = "https://x.example.com/{customer_id!r}"', "{customer_id}"),
        ('payment_url = "https://x.example.com/{"', "brace"),
        ('reply_to = "a@example.com, b@evil.com"', "not one plain e-mail address"),
        ('sender_name = "=?utf-8?q?x?="', "does not read back"),
        ('sender_name = "line\\nbreak"', "control character"),
        ('locale = "klingon"', "not a locale CLDR knows"),
        ("address = 7", "list of at most 6 lines"),
        ('payment_url = "https://[::1/"', "https:// link to a host"),
        ('payment_url = "https://ex.example.com/%zz/{invoice_id}"', "starts no escape"),
        ('payment_url = "https://pay.example.com:99999/"', "https:// link to a host"),
        ('payment_url = "https://{customer_ref}/pay"', "no field in it"),
        ('payment_url = "https://pay.example.com{customer_ref}/"', "no field in it"),
        ('payment_url = "https://billing.example.com@evil.com/x"', "no user"),
        ('payment_url = "https://evil.com\\\\@good.com/"', "no backslash"),
        ("company = [", "not TOML"),
    ],
)
def test_branding_that_cannot_be_used_is_refused_naming_the_key(
    tmp_path: Path, toml: str, why: str
) -> None:
    write(tmp_path, "branding.toml", toml + "\n")
    with pytest.raises(TemplatesError) as refused:
        branding.load(tmp_path)
    assert why in str(refused.value)
    assert check_templates(tmp_path).problems  # and the check says so


def test_the_spec_s_company_and_the_branding_s_must_agree(tmp_path: Path) -> None:
    write(tmp_path, "branding.toml", 'company = "Acme"\n')
    assert branding.load(tmp_path, company="Acme").company == "Acme"
    with pytest.raises(TemplatesError, match="one place"):
        branding.load(tmp_path, company="Other")


def test_a_template_that_fails_mid_run_stops_the_run_and_every_notice_waits_untried(
    tmp_path: Path, make: Callable[..., Path], bill: Callable[..., Any], notify: Notify, sql: Sql
) -> None:
    """A branch no specimen reaches: the run stops at the first notice that meets it,
    as for a channel that refuses us (exit 2), and no notice spends a try."""
    write(tmp_path, "en/receipt.subject",
          '{% if invoice_id == "2" %}{{ nope }}{% endif %}Receipt {{ invoice_id }}')  # fmt: skip
    letters = open_letters(tmp_path)  # the specimens pass
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    bill(FakeProvider())
    channel = FakeChannel()
    result = notify(channel, letters=letters)
    assert result.channel_refused
    assert result.stop_reason is not None
    assert "en/receipt.subject" in result.stop_reason
    assert [m.subject for m in channel.delivered] == ["Receipt 1"]
    tried = sql(
        "SELECT status, count(*), sum(tries) FROM notification WHERE kind = 'receipt' "
        "GROUP BY status ORDER BY status"
    )
    assert tried == [("pending", 2, 0), ("sent", 1, 1)]


def test_a_notice_goes_in_its_customer_s_language_with_the_company_s_letterhead(
    make: Callable[..., Path],
    bill: Callable[..., Any],
    notify: Notify,
    edit: Callable[..., None],
) -> None:
    make((1, 100, "SEK"), (2, 100, "EUR"))
    edit("UPDATE customer SET locale = 'sv-SE' WHERE id = 1")
    edit("UPDATE customer SET locale = 'xx-YY' WHERE id = 2")  # a tag CLDR does not know
    bill(FakeProvider(default=DECLINED))
    channel = FakeChannel()
    notify(channel, letters=LETTERS)
    by_customer = {m.recipient: m for m in channel.delivered}
    swedish = by_customer["c1@example.com"]
    assert swedish.subject == "Betalningen för faktura 1 avvisades"
    assert swedish.sender_name == "Øresund Billing"
    assert swedish.reply_to == "help@example.com"
    assert "1,00 kr" in swedish.text
    assert by_customer["c2@example.com"].subject == "Payment for invoice 2 was declined"


def test_a_specimen_and_a_template_failure_are_not_the_same_error() -> None:
    assert issubclass(TemplateFailure, Exception)
    assert not issubclass(TemplateFailure, ValueError)


@pytest.mark.parametrize(
    ("plant", "why"),
    [
        (lambda d: (d / "en" / "receipt.subject").symlink_to("/etc/hostname"), "outside"),
        (lambda d: (d / "en" / "x").symlink_to("/etc/passwd"), "outside"),
        (lambda d: (d / "en" / "receipt.subject").write_bytes(b"\xff\xfe\x00"), "not UTF-8"),
        (lambda d: (d / "en" / "receipt.subject").write_text("x" * 70_000), "larger than 64 KiB"),
        (lambda d: (d / "en" / "receipt.subject").mkdir(), "not a regular file"),
        (lambda d: os.mkfifo(d / "en" / "receipt.subject"), "not a regular file"),
    ],
)
def test_an_operator_file_is_read_from_inside_the_directory_or_refused(
    tmp_path: Path, plant: Callable[[Path], object], why: str
) -> None:
    """Never skipped in favour of the built-in one, never read from outside: a link to
    /etc/passwd included in a subject would mail it to every customer."""
    (tmp_path / "en").mkdir()
    write(tmp_path, "en/receipt.txt", '{% extends "layout.txt" %}{% block body %}'
          '{% include "en/x" ignore missing %}{% endblock %}')  # fmt: skip
    plant(tmp_path)
    problems = check_templates(tmp_path).problems
    assert problems, why
    assert why in problems[0], problems


def test_a_folder_linked_from_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "receipt.subject", "leaked {{ invoice_id }}")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "en").symlink_to(outside)
    problems = check_templates(folder).problems
    assert problems
    assert "outside" in problems[0], problems


@pytest.mark.parametrize("target", ["nowhere", "/etc/hostname"])
def test_a_branding_file_that_is_a_link_out_or_to_nothing_is_refused(
    tmp_path: Path, target: str
) -> None:
    (tmp_path / "branding.toml").symlink_to(target)
    with pytest.raises(TemplatesError, match=r"outside|cannot be read"):
        branding.load(tmp_path)
