"""What a customer's notice says, in their language: templates rendered by Jinja2 in its
sandbox.

A notice of kind K in language L is three templates, `L/K.subject`, `L/K.txt` and
`L/K.html`, with `L/reason.txt` for the words of a decline; the text and HTML extend
`layout.txt` and `layout.html`. The operator's templates directory is read first, the
built-in templates (`antaeus_cli/notify/templates`) after it, file by file: one
template overrides only itself.

The language: the customer's locale (`da-DK`), then its language (`da`), then the
company's (branding `locale`), then `en`; the first for which K's text template
exists. Amounts and dates are written by that locale's rules (`notify.formats`):
the customer's own locale when their language was chosen, the company's when it was.

Templates see only the documented fields (`fields`), with the operator's own text
already on one line and capped. `StrictUndefined`: a misspelt field fails the render
(and `notify --check-templates`, which renders every kind in every language there is,
with specimens of every case). HTML is autoescaped; the sandbox refuses attribute
access that could reach Python's internals.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import NamedTuple

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.exceptions import SecurityError

from antaeus_cli.domain.clock import AsOf, zone_named
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.notify.branding import Branding
from antaeus_cli.notify.formats import FALLBACK, Formats, known_locale, tag_of
from antaeus_cli.notify.render import Content, flat
from antaeus_cli.notify.sandbox import (
    Deadline,
    OperatorLoader,
    RenderTimeout,
    Sandbox,
    budget,
)
from antaeus_cli.store.deliveries import Pending

CUSTOMER_KINDS = (
    NoticeKind.RECEIPT,
    NoticeKind.PAYMENT_FAILED,
    NoticeKind.ACTION_REQUIRED,
    NoticeKind.FINAL_NOTICE,
)
PARTS = ("subject", "txt", "html")
REASON = "reason.txt"
MAX_SUBJECT = 200
MAX_PART = 200_000  # characters of a text or HTML body: no notice is near it


class TemplateFailure(Exception):
    """A template that cannot render a notice: the operator's setting, not the notice's."""


class _Voice(NamedTuple):
    """The language a customer is written to, and the formats of their notices."""

    chain: tuple[str, ...]  # template folders, the chosen language first
    formats: Formats


class Letters:
    """The templates of a run: the operator's directory over the built-in ones."""

    def __init__(self, branding: Branding, directory: Path | None = None) -> None:
        self.branding, self.directory = branding, directory
        loaders: list[BaseLoader] = [PackageLoader("antaeus_cli.notify", "templates")]
        try:
            if directory is not None:
                loaders.insert(0, OperatorLoader(directory))
        except SecurityError as exc:
            raise TemplateFailure(str(exc)) from None
        self._deadline = Deadline()
        self._env = Sandbox(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=1000,
        )
        try:
            self._names = frozenset(self._env.list_templates())
        except (OSError, SecurityError) as exc:
            raise TemplateFailure(f"the templates directory cannot be read: {exc}") from None
        self._company = flat(branding.company, 80)
        self._address = [flat(line) for line in branding.address]
        self._voice = functools.lru_cache(maxsize=256)(self._find_voice)
        self._template = functools.lru_cache(maxsize=1024)(self._find_template)

    @property
    def languages(self) -> list[str]:
        """Every folder that holds a customer notice's text template."""
        return sorted(
            {name.split("/")[0] for name in self._names if name.count("/") == 1}
            & {
                name.split("/")[0]
                for name in self._names
                for kind in CUSTOMER_KINDS
                if name.endswith(f"/{kind.value}.txt")
            }
        )

    def _find_voice(self, customer_locale: str | None, kind: NoticeKind) -> _Voice:
        chain: dict[str, str] = {}  # folder -> the locale whose formats it uses, in order
        for tag in (customer_locale, self.branding.locale, FALLBACK):
            locale = None if tag is None else known_locale(tag)
            if locale is not None:
                full = tag_of(locale)
                chain.setdefault(full, full)
                chain.setdefault(locale.language, full)
        seen = list(chain.items())
        for index, (folder, formats) in enumerate(seen):
            locale = known_locale(formats)
            if locale is not None and f"{folder}/{kind.value}.txt" in self._names:
                return _Voice(tuple(f for f, _ in seen[index:]), Formats(locale))
        raise TemplateFailure(f"no template for {kind.value} in any language")

    def _find_template(self, chain: tuple[str, ...], name: str) -> Template:
        try:
            return self._env.select_template([f"{folder}/{name}" for folder in chain])
        except TemplateNotFound:
            raise TemplateFailure(
                f"no template {name} in {', '.join(chain)} (nor built in)"
            ) from None
        except TemplateError as exc:
            raise TemplateFailure(_where(exc)) from None
        except (MemoryError, RecursionError, ValueError, OverflowError) as exc:
            raise TemplateFailure(f"{name}: {type(exc).__name__}: {flat(exc, 200)}") from None

    def render(self, notice: Pending, company_zone: tzinfo | None = None) -> Content:
        """The e-mail a customer's notice becomes. ValueError for a row no notice can be
        written from (its own); TemplateFailure for a template that fails (the
        operator's: every notice would meet it)."""
        voice = self._voice(notice.customer_locale, notice.kind)
        kind = notice.kind.value
        try:
            self._deadline.arm()
            budget()
            try:
                fields = self.fields(notice, voice, company_zone)
                subject = flat(self._render(voice, f"{kind}.subject", fields), MAX_SUBJECT)
                fields["subject"] = subject
                text = self._render(voice, f"{kind}.txt", fields)
                page = self._render(voice, f"{kind}.html", fields)
            finally:
                self._deadline.disarm()
        except RenderTimeout:
            raise TemplateFailure(
                f"{voice.chain[0]}/{kind}: took longer than {self._deadline.seconds:g} s to render"
            ) from None
        if not subject:
            raise TemplateFailure(f"the subject of {kind} came out empty")
        if max(len(text), len(page)) > MAX_PART:
            raise TemplateFailure(
                f"{voice.chain[0]}/{kind}: renders more than {MAX_PART} characters"
            )
        return Content(subject, text if text.endswith("\n") else text + "\n", page)

    def reason(self, notice: Pending, company_zone: tzinfo | None = None) -> str | None:
        """A decline's words, as the customer's notice says them (None: a receipt)."""
        if notice.kind is NoticeKind.RECEIPT:
            return None
        voice = self._voice(notice.customer_locale, notice.kind)
        try:
            self._deadline.arm()
            budget()
            try:
                return str(self.fields(notice, voice, company_zone)["reason"])
            finally:
                self._deadline.disarm()
        except RenderTimeout:
            raise TemplateFailure(
                f"{voice.chain[0]}/{REASON}: took longer than {self._deadline.seconds:g} s"
            ) from None

    def _render(self, voice: _Voice, name: str, fields: dict[str, object]) -> str:
        template = self._template(voice.chain, name)
        try:
            return template.render(fields)
        except RenderTimeout:
            raise
        except TemplateError as exc:
            at = self._line(exc) or template.name or name
            raise TemplateFailure(f"{at}: {flat(exc.message or type(exc).__name__, 300)}") from None
        except Exception as exc:  # noqa: BLE001 - whatever a template's expression raises
            at = self._line(exc) or template.name or name
            raise TemplateFailure(f"{at}: {type(exc).__name__}: {flat(exc, 200)}") from None

    def _line(self, exc: BaseException) -> str | None:
        """The template file and line a render failed at, from the traceback Jinja2
        writes with the templates' own names and lines."""
        roots = [Path(__file__).with_name("templates")]
        if self.directory is not None:
            roots.insert(0, self.directory)
        found = None
        step = exc.__traceback__
        while step is not None:
            path = Path(step.tb_frame.f_code.co_filename)
            for root in roots:
                if path.is_relative_to(root):
                    found = f"{path.relative_to(root)}, line {step.tb_lineno}"
            step = step.tb_next
        return found

    def fields(
        self, notice: Pending, voice: _Voice, company_zone: tzinfo | None
    ) -> dict[str, object]:
        """What a template is given (docs/notices.md lists these)."""
        if notice.amount is None or notice.currency is None:
            raise ValueError("its charge's amount is not recorded")
        formats = voice.formats
        written = _local_date(notice, notice.created_at, company_zone)
        retry = notice.next_retry_on
        soon = retry is not None and written is not None and retry <= written
        fields: dict[str, object] = {
            "kind": notice.kind.value,
            "locale": formats.tag,
            "company": self._company,
            "company_address": self._address,
            "customer_id": str(notice.customer_id),
            "invoice_id": str(notice.invoice_id),
            "amount": flat(formats.amount(notice.amount, notice.currency)),
            "currency": flat(notice.currency, 3),
            "charged_on": _day(notice, formats, company_zone),
            "reference": None if notice.reference is None else flat(notice.reference),
            "decline_code": None if notice.decline_code is None else flat(notice.decline_code),
            "decline_class": notice.decline_class,
            "next_try_on": None if retry is None or soon else formats.day(retry),
            "retry_soon": soon,
            "tries": max(notice.attempt_no or 1, 1),
            "payment_url": self.branding.link(
                customer_id=notice.customer_id,
                customer_ref=notice.customer_ref,
                invoice_id=notice.invoice_id,
            ),
        }
        fields["reason"] = (
            ""
            if notice.kind is NoticeKind.RECEIPT
            else flat(self._render(voice, REASON, fields), 300)
        )
        return fields

    def check(
        self,
        specimens: Iterable[Pending],
        *,
        first: bool = False,
        stop: threading.Event | None = None,
    ) -> list[str]:
        """Render every specimen in every language there is; the problems found, each
        naming its template (empty: every template renders). A kind that failed in a
        language is not rendered there again (a template that runs to its deadline
        costs it once); `first`: stop at the first problem; `stop`: when it is set."""
        problems: list[str] = []
        for language in self.languages:
            failed: set[NoticeKind] = set()
            for notice in specimens:
                if stop is not None and stop.is_set():
                    return problems
                if notice.kind in failed:
                    continue
                try:
                    self.render(notice._replace(customer_locale=language))
                except TemplateFailure as exc:
                    failed.add(notice.kind)
                    problem = f"{language}: {exc}"
                    if problem not in problems:
                        problems.append(problem)
                    if first:
                        return problems
        return problems


def _where(exc: TemplateError, name: str | None = None) -> str:
    """A template's failure as an operator can find it: file, line, what."""
    where = getattr(exc, "filename", None) or getattr(exc, "name", None) or name or "a template"
    line = getattr(exc, "lineno", None)
    at = f"{where}, line {line}" if line else str(where)
    return f"{at}: {flat(exc.message or type(exc).__name__, 300)}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _local_date(notice: Pending, moment: datetime, company_zone: tzinfo | None) -> date | None:
    """`moment` as a date in the customer's zone (the company's for a customer without
    one); None when no zone can show it (an unknown zone, a row edited by hand)."""
    zone = company_zone if notice.customer_zone is None else zone_named(notice.customer_zone)
    if notice.customer_zone is not None and zone is None:
        return None
    try:
        return AsOf.at(_utc(moment)).local_date(zone)
    except (OverflowError, ValueError, OSError):
        return None


def _day(notice: Pending, formats: Formats, company_zone: tzinfo | None) -> str:
    """The day of the charge (when its request went), in the customer's zone; in UTC,
    saying so, when no zone can show it."""
    moment = notice.charged_at or notice.created_at
    local = _local_date(notice, moment, company_zone)
    if local is not None:
        return formats.day(local)
    return f"{formats.day(_utc(moment).date())} (UTC)"
