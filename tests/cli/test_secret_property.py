"""Whatever a provider spec and its key file hold, the key never shows: not on stdout or
stderr, not in `--json`, not in any table of the database, not in any report format;
and no spec ends in exit 70. The real CLI runs in-process against a real SQLite file
and, for stripe://, against the Stripe-shaped server on loopback."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from antaeus_cli.cli.app import app
from antaeus_cli.cli.exit_codes import ExitCode
from tests.conftest import stored_text
from tests.stripe.conftest import Shaped, shaped_server

AS_OF = "2026-12-01"
# The pieces every generated key is made of, between tricky characters: runs of
# letters that no output holds unless a key, or a piece of one, leaked into it.
PIECES = ("QZXJVKWQPY", "WVQJXZKPMF", "JQXZVWKYPB")
ENVIRONMENT = (
    "ANTAEUS_DB",
    "ANTAEUS_PROVIDER",
    "ANTAEUS_NOTIFY",
    "ANTAEUS_FAILPOINT",
    "ANTAEUS_TZ",
)
FINISHED = {ExitCode.OK, ExitCode.NEEDS_OPERATOR, ExitCode.USAGE, ExitCode.STOPPED}

# What a key may hold besides its pieces: URL syntax, quotes and spaces, which a key
# may hold; line breaks, control characters and non-ASCII text, which it may not.
PUNCTUATION = [*"#/?&=%+;:@'\"\\<>[]{}|^`~!$*(),.-_ ", "%0A", "%23", "%26", "%3D", "%2F"]
UNCARRIED = ["\t", "\n", "\r\n", "\x00", "\x7f", "\u2028", "\x85", "é", "€"]
TRICKY = st.one_of(
    st.just(""),
    st.lists(st.sampled_from(PUNCTUATION), min_size=1, max_size=3).map("".join),
    st.lists(st.sampled_from(PUNCTUATION + UNCARRIED), min_size=1, max_size=3).map("".join),
)


@st.composite
def key_files(draw: st.DrawFn) -> str:
    """A key file's content: a key, with whitespace around it, and sometimes a second
    key below it (the old key and the new during a rotation)."""
    key = f"sk_test_{PIECES[0]}{draw(TRICKY)}{PIECES[1]}{draw(TRICKY)}"
    if draw(st.integers(0, 3)) == 0:
        key += draw(st.sampled_from(["\n", "\r\n", "\n\n"])) + f"sk_test_{PIECES[2]}"
    before = draw(st.sampled_from(["", " ", "\n"]))
    after = draw(st.sampled_from(["", "\n", " \n", "\r\n"]))
    return before + key + after


@st.composite
def spellings(draw: st.DrawFn, name: str) -> str:
    """`name` with any of its characters percent-encoded, in either case of hex."""
    encoded = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    upper = draw(st.booleans())
    hexed = [f"%{ord(c):02X}" if upper else f"%{ord(c):02x}" for c in name]
    return "".join(h if e else c for c, h, e in zip(name, hexed, encoded, strict=True))


@st.composite
def inline_values(draw: st.DrawFn, content: str) -> str:
    """The key written into the spec: encoded as it should be, in part, or not at all."""
    key = content.strip()
    return draw(
        st.sampled_from(
            [quote(key, safe=""), quote(key, safe="/?:@"), key, key.replace("&", "%26")]
        )
    )


@dataclass(frozen=True)
class Case:
    scheme: str
    params: list[str]  # name=value, in order; KEYFILE stands for the key file's path
    content: str
    on_command_line: bool


@st.composite
def cases(draw: st.DrawFn) -> Case:
    scheme = draw(st.sampled_from(["sim", "stripe"]))
    content = draw(key_files())
    key_params: list[str] = []
    # Now and then a second: the same parameter again, or a file and the key inline.
    for _ in range(1 + (draw(st.integers(0, 3)) == 0)):
        if draw(st.booleans()):
            name = draw(spellings("api_key_file"))
            key_params.append(f"{name}=KEYFILE")
        else:
            misspelt = st.sampled_from(["api_kee", "pasword", "API_KEY"])
            name = draw(misspelt if draw(st.integers(0, 3)) == 0 else spellings("api_key"))
            # a NUL cannot reach a process through its arguments or environment at all
            inline = inline_values(content).filter(lambda value: "\x00" not in value)
            key_params.append(f"{name}={draw(inline)}")
    extras = {
        "sim": ["seed=1", "latency_ms=0", "key_retention_h=24"],
        "stripe": ["timeout_s=5", "key_retention_h=24", "transport=http"],
    }[scheme]
    chosen = draw(st.lists(st.sampled_from(extras), unique=True))
    if scheme == "stripe":
        chosen.append("api_base=SERVER")
    params = draw(st.permutations(key_params + chosen))
    return Case(scheme, list(params), content, draw(st.integers(0, 2)) == 0)


@pytest.fixture(scope="module")
def server() -> Iterator[Shaped]:
    with shaped_server() as shaped:
        yield shaped


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, server: Shaped) -> Path:
    """A seeded database and its simulated provider's ledger, copied for each example;
    its customers hold cards at the Stripe-shaped server too."""
    db = tmp_path_factory.mktemp("template") / "antaeus.db"
    args = ["--db", str(db), "seed", "--customers", "6", "--seed", "3", "--as-of", AS_OF]
    assert CliRunner().invoke(app, args, env=dict.fromkeys(ENVIRONMENT)).exit_code == 0
    conn = sqlite3.connect(db)
    refs = [ref for (ref,) in conn.execute("SELECT provider_ref FROM customer")]
    conn.close()
    server.customers(dict.fromkeys(refs, "pm_card_visa"))
    return db


_EXAMPLES = itertools.count()


@settings(
    max_examples={"chaos": 400, "mutants": 10}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), 30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_a_key_never_shows_whatever_the_spec_and_its_file_hold(
    case: Case, template: Path, server: Shaped, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp(f"example{next(_EXAMPLES)}")
    try:
        for path in template.parent.iterdir():
            shutil.copy(path, folder / path.name)
        key_file = folder / "key"
        key_file.write_bytes(case.content.encode("utf-8"))
        spec = f"{case.scheme}://?" + "&".join(
            p.replace("KEYFILE", str(key_file)).replace("SERVER", server.base) for p in case.params
        )
        shown = run_everything(folder / "antaeus.db", spec, case.on_command_line)
        shown.append(stored_text(*sorted(folder.glob("*.db"))))
        leaked = [(piece, text) for text in shown for piece in PIECES if piece in text]
        assert not leaked, leaked[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_everything(db: Path, spec: str, on_command_line: bool) -> list[str]:
    """Bill, preview and report with `spec`; everything the CLI wrote."""
    runner = CliRunner()
    env: dict[str, Any] = {**dict.fromkeys(ENVIRONMENT), "NO_COLOR": "1"}
    given = ["--provider", spec] if on_command_line else []
    if not on_command_line:
        env["ANTAEUS_PROVIDER"] = spec
    shown: list[str] = []
    for args in (
        ["bill", "--as-of", AS_OF, "--json", *given],
        ["bill", "--as-of", AS_OF, "--dry-run", "--json", *given],
        ["bill", "--as-of", AS_OF, *given],
        ["report", "--format", "table"],
        ["report", "--format", "json"],
        ["report", "--format", "csv", "--section", "runs"],
    ):
        result = runner.invoke(app, ["--db", str(db), *args], env=env)
        if not shown:
            event(f"the first pass exits {result.exit_code}")
        shown += [result.stdout, result.stderr]
        assert result.exit_code in FINISHED, (args, result.stdout, result.stderr)
    return shown
