"""Where the company's templates run: Jinja2's sandbox, with bounds of our own.

Jinja2's sandbox keeps a template away from Python's internals. A template is still a
program, and one that loops for ever or builds a gigabyte would stop every `notify`
run, so this module adds:

- an operator's files read from inside the templates directory only: a symbolic link
  whose target is outside it, a file that is not a regular file, larger than 64 KiB or
  not UTF-8 is refused, never skipped in favour of the built-in one;
- bounds on what builds text or numbers: `*`, `%`, every filter and every method of a
  string or a list refuse arguments that would build more than MAX_BUILT characters
  (a width, a precision, a count, a join's pieces), and any result past it; `sum` adds
  numbers only; `**` takes neither a base nor an exponent past 64 bits;
- a deadline for each notice's render (RENDER_SECONDS), enforced by one watch thread that raises
  in the rendering thread (a pure-Python loop of a template stops there).

Every value a template builds (by `*`, `+`, `~`, `%`, a filter, a call) is weighed
as the characters it would print as, nested collections included, and refused past
MAX_BUILT: so no single step (a comparison, a sort, a print) works on more.
"""

from __future__ import annotations

import ctypes
import os
import re
import stat
import threading
import time
from collections.abc import Callable, ItemsView, Iterable, KeysView, ValuesView
from pathlib import Path
from typing import Any, cast

from jinja2 import BaseLoader, Environment, TemplateNotFound, nodes
from jinja2.compiler import CodeGenerator, Frame, operators
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

MAX_BUILT = 100_000  # characters a template may build in one step
MAX_POWER = 64  # bits of a base or exponent of `**`
MAX_INT_BITS = 256  # a number a template makes: far past any amount or count
MAX_FILE = 64 * 1024
MAX_OUTPUT = 200_000  # characters one render (or one macro) may write
MAX_SPENT = 5_000_000  # characters all the values of one notice's render may weigh
RENDER_SECONDS = 2.0
TICK = 0.5  # how often the deadline is looked at
IDLE_TICKS = 6
# A printf-style conversion's width and precision (after any `(key)`), and a number of
# four digits or more in a `{...}` field (a width or a precision).
_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?|\{[^{}]*?(\d{4,})[^{}]*\}")


class RenderTimeout(Exception):
    """A render that ran past its deadline."""


class _Generator(CodeGenerator):
    """Jinja2's code generator, with every `~` concatenation handed to the environment
    to be bounded: it is compiled to a join the sandbox cannot otherwise see."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja2 names it
        self.write("environment.joined(")
        super().visit_Concat(node, frame)
        self.write(")")

    # A literal list, tuple or dict is weighed as it is made (one that holds the same
    # big value twice, nested, would print as gigabytes); a comparison's sides before
    # they are compared, which is one C call.
    def visit_List(self, node: nodes.List, frame: Frame) -> None:  # noqa: N802
        self.write("environment.checked(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:  # noqa: N802
        self.write("environment.checked(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:  # noqa: N802
        if node.ctx != "load":  # the names a {% set a, b = ... %} assigns to
            super().visit_Tuple(node, frame)
            return
        self.write("environment.checked(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:  # noqa: N802
        self.write("(environment.checked(")
        self.visit(node.expr, frame)
        self.write(")")
        for op in node.ops:
            self.visit(op, frame)
        self.write(")")

    def visit_Operand(self, node: nodes.Operand, frame: Frame) -> None:  # noqa: N802
        self.write(f" {operators[node.op]} environment.checked(")
        self.visit(node.expr, frame)
        self.write(")")


class Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with `*` and `**` bounded, and the filters that pad, join or
    replace refusing to build more than MAX_BUILT characters."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/", "-"})
    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=checked_size, **options)  # what {{ }} prints is weighed
        self.filters["sum"] = _sum_of_numbers(self.filters["sum"])
        for name, real in list(self.filters.items()):
            self.filters[name] = _bounded(real)
        for name, test in list(self.tests.items()):
            self.tests[name] = _bounded(cast(Callable[..., Any], test))

    def concat(self, pieces: Iterable[str]) -> str:
        """A render's output, or a macro's, joined: counted as it comes, and refused
        past MAX_OUTPUT characters before it is all held."""
        held, total = [], 0
        for piece in pieces:
            total += len(piece)
            if total > MAX_OUTPUT:
                raise SecurityError(f"a template may not write more than {MAX_OUTPUT} characters")
            held.append(piece)
        return "".join(held)

    def checked(self, value: Any) -> Any:
        """A value made by a literal, or compared: weighed (see _Generator)."""
        return checked_size(value)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja2's own signature
        for arg in (*args, *kwargs.values()):
            checked_size(arg)
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_BUILT:
                raise SecurityError(f"a template may not pass a count over {MAX_BUILT}")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | list | tuple):  # "{:>999999999}".format(1), and the like
            check_call(owner, args, kwargs)
        return checked_size(super().call(__context, __obj, *args, **kwargs))

    def joined(self, text: Any) -> Any:
        """What `~` built: bounded like the rest (see _Generator)."""
        return checked_size(text)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`"...".format` and `format_map`, which the sandbox wraps where they are read:
        their format bounded too, a width from an argument (`{:>{w}}`) refused."""
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            if re.search(r"\{[^{}]*\{", owner):
                raise SecurityError("a template may not take a format's width from a value")
            _check_widths(owner)
        return super().wrap_str_format(value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            for side in (left, right):
                if isinstance(side, int) and abs(side).bit_length() > MAX_POWER:
                    raise SecurityError(
                        f"a template may not raise to a power past {MAX_POWER} bits"
                    )
            if isinstance(left, int) and isinstance(right, int) and right > MAX_POWER:
                raise SecurityError(f"a template may not raise to a power over {MAX_POWER}")
        elif operator == "%" and isinstance(left, str):
            _check_widths(left)
            checked_size(right)
        for side in (left, right):
            checked_size(side)  # a number past MAX_INT_BITS, from anywhere
        return checked_size(super().call_binop(context, operator, left, right))


def _check_repeat(left: Any, right: Any) -> None:
    sizes = [weight(x) for x in (left, right) if isinstance(x, str | list | tuple)]
    counts = [abs(x) for x in (left, right) if isinstance(x, int)]
    if sizes and counts and sizes[0] * max(counts) > MAX_BUILT:
        raise SecurityError(f"a template may not build more than {MAX_BUILT} characters")


def _check_widths(pattern: str) -> None:
    for found in _WIDTH.finditer(pattern):
        for given in found.groups():
            if given is not None and (given == "*" or int(given) > MAX_BUILT):
                raise SecurityError(f"a template may not pad past {MAX_BUILT} characters")


def weight(value: Any, budget: int = MAX_BUILT) -> int:
    """About how many characters `value` prints as: a string its length, a collection
    its items' weights (a list of one string a hundred thousand times weighs a hundred
    thousand strings), anything else 1. Counted until past `budget`, so at most about
    `budget` steps, and a list that holds itself ends too."""
    total, stack = 0, [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset | dict):
            total += len(item) + 1
            if total <= budget:
                stack.extend(item.items() if isinstance(item, dict) else item)
        elif isinstance(item, Namespace):
            stack.append(_attributes(item))
        elif isinstance(item, KeysView | ValuesView | ItemsView):  # a dict's views print all
            total += len(item) + 1
            if total <= budget:
                stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1  # about its decimal digits
        else:
            total += 1
    return total


def _attributes(space: Namespace) -> dict[str, Any]:
    """What a template's `namespace` holds (Jinja2 keeps it in a private dict)."""
    try:
        held = object.__getattribute__(space, "_Namespace__attrs")
    except AttributeError:
        return {}
    return held if isinstance(held, dict) else {}


class _Spent(threading.local):
    left: int | None = None  # characters this thread's render may still build; None: no count


_SPENT = _Spent()


def budget(characters: int | None = MAX_SPENT) -> None:
    """Start counting what this thread's render builds, from `characters` (None: stop)."""
    _SPENT.left = characters


def checked_size(result: Any) -> Any:
    """`result`, unless it weighs more than MAX_BUILT characters, or more than the
    render has left to build (a loop that builds a new big value every time); an
    integer, unless it is past MAX_INT_BITS (dividing one is a single slow C call)."""
    if isinstance(result, float | bool | None):
        return result
    if isinstance(result, int):
        if result.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"a template may not make a number past {MAX_INT_BITS} bits")
        return result
    weighs = weight(result)
    if weighs > MAX_BUILT:
        raise SecurityError(f"a template may not build more than {MAX_BUILT} characters")
    left = _SPENT.left
    if left is not None:
        if weighs > left:
            raise SecurityError(
                f"a template may not build more than {MAX_SPENT} characters in one notice"
            )
        _SPENT.left = left - weighs
    return result


def check_call(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call on `value` that would build more than MAX_BUILT characters: a
    number past it (a width, a count), a padding width in a format, or a join or a
    replace whose pieces multiply past it."""
    given = (*args, *kwargs.values())
    for arg in given:
        checked_size(arg)
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_BUILT:
            raise SecurityError(f"a template may not build more than {MAX_BUILT} characters")
        if isinstance(arg, str):
            _check_widths(arg)
    if isinstance(value, str):
        _check_widths(value)
    # what each piece of `value` may grow by: a string put in (a separator, a
    # replacement), or a count of characters (a width, an indent)
    grows = sum(len(arg) for arg in given if isinstance(arg, str)) + sum(
        abs(arg) for arg in given if isinstance(arg, int) and not isinstance(arg, bool)
    )
    items = len(value) if isinstance(value, str | list | tuple | dict | range) else 1
    # and what `value` holds already: the pieces a join puts together
    held = weight(value) if isinstance(value, list | tuple | dict) else 0
    if held + grows * items > MAX_BUILT:
        raise SecurityError(f"a template may not build more than {MAX_BUILT} characters")


def _bounded(real: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses arguments that would build too much, before it builds."""
    passes = hasattr(real, "jinja_pass_arg")  # its first argument is Jinja's, not ours

    def bounded(*args: Any, **kwargs: Any) -> Any:
        ours = args[1:] if passes else args
        if ours:
            check_call(ours[0], ours[1:], kwargs)
        return checked_size(real(*args, **kwargs))

    if passes:
        bounded.jinja_pass_arg = real.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded


def _sum_of_numbers(real: Callable[..., Any]) -> Callable[..., Any]:
    """`sum` of numbers only: a sum of lists is a quadratic copy in one C call, which
    no deadline can cut."""
    passes = hasattr(real, "jinja_pass_arg")

    def numbers(*args: Any, **kwargs: Any) -> Any:
        ours = args[1:] if passes else args
        start = kwargs.get("start", ours[2] if len(ours) > 2 else 0)
        if not isinstance(start, int | float):
            raise SecurityError("a template may sum numbers only")
        total = real(*args, **kwargs)
        if not isinstance(total, int | float):
            raise SecurityError("a template may sum numbers only")
        return total

    if passes:
        numbers.jinja_pass_arg = real.jinja_pass_arg  # type: ignore[attr-defined]
    return numbers


class OperatorLoader(BaseLoader):
    """The operator's templates directory, read from inside it only (see above)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            self._real = root.resolve(strict=True)
        except OSError as exc:
            raise SecurityError(f"{root}: cannot be read: {exc.strerror or exc}") from None

    def get_source(
        self,
        environment: Environment,  # noqa: ARG002 - the loader protocol's
        template: str,
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.root.joinpath(*split_template_path(template))
        if not os.path.lexists(path):
            raise TemplateNotFound(template)
        return read_inside(path, self._real), str(path), lambda: True

    def list_templates(self) -> list[str]:
        found = []

        def refuse(exc: OSError) -> None:
            raise SecurityError(f"{exc.filename}: cannot be read: {exc.strerror or exc}")

        for folder, _dirs, files in os.walk(self.root, onerror=refuse):
            for name in files:
                relative = Path(folder, name).relative_to(self.root)
                found.append("/".join(relative.parts))
        return sorted(found)


def read_inside(path: Path, root: Path) -> str:
    """A file's text, if it is a regular file of at most MAX_FILE bytes of UTF-8 whose
    real path is inside `root`; SecurityError saying why not."""
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(root):
            raise SecurityError(f"{path}: a link to {real}, outside {root}")
        found = real.stat()
        if not stat.S_ISREG(found.st_mode):
            raise SecurityError(f"{path}: not a regular file")
        if found.st_size > MAX_FILE:
            raise SecurityError(f"{path}: larger than {MAX_FILE // 1024} KiB")
        with real.open("rb") as file:
            raw = file.read(MAX_FILE + 1)
    except OSError as exc:
        raise SecurityError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise SecurityError(f"{path}: larger than {MAX_FILE // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecurityError(f"{path}: not UTF-8") from None


class Deadline:
    """A deadline for each render, watched by one thread for all of them: past it, the
    rendering thread gets RenderTimeout (at its next Python step)."""

    def __init__(self, seconds: float = RENDER_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._armed: tuple[int, float] | None = None  # (thread id, monotonic deadline)
        self._watch: threading.Thread | None = None

    def arm(self) -> None:
        """From now, this thread has `seconds` to disarm."""
        with self._lock:
            self._armed = (threading.get_ident(), time.monotonic() + self.seconds)
            if self._watch is None:
                self._watch = threading.Thread(target=self._run, name="render-deadline")
                self._watch.daemon = True
                self._watch.start()

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def _run(self) -> None:
        """Look twice a second (a deadline is met within half a second of its time);
        end after a few seconds with nothing armed (the next arm starts it again)."""
        idle = 0
        while True:
            time.sleep(TICK)
            with self._lock:
                armed = self._armed
                idle = idle + 1 if armed is None else 0
                if idle > IDLE_TICKS:
                    self._watch = None
                    return
                if armed is None or time.monotonic() < armed[1]:
                    continue
                self._armed = None
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(armed[0]), ctypes.py_object(RenderTimeout)
                )
