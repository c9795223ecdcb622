"""The one rule by which `tests.mutation_gate` excuses a surviving mutant: it only changes
the letter case of SQL keywords inside a SQL statement's string literals.

SQLite reads keywords without regard to case, so `ORDER BY` and `order by` are one
statement. The rule is narrow on purpose; a mutant is excused only when all of this holds:

1. *One string changed.* Parsed with `ast`, the mutant's function (as mutmut writes it
   into `mutants/<module>.py`) differs from the unmutated copy beside it in exactly one
   string constant, and nowhere else.
2. *The string is part of a SQL statement.* In the unmutated function, the string is
   part of the statement argument (the first positional argument, or `sql=`) of a call to
   a method named `execute`, `executemany` or `executescript`: the argument itself, a
   piece of it joined with `+`, the literal text of an f-string, either branch of a
   conditional expression, or, when the argument is a local name, a value the function
   assigns to that name. A string that only *becomes* SQL elsewhere (a fragment returned
   to another function, an error message that quotes a keyword, a log line) is not: its
   survivors are killed by a test, or marked `# pragma: no mutate` with a reason.
3. *Only keywords changed, and only their case.* The old and new strings have the same
   length, and every character that differs is the same letter in the other case, inside
   a word that SQLite lists as a keyword (https://sqlite.org/lang_keywords.html). Quoted
   text ('literals', "identifiers", `identifiers`, [identifiers]), comments, parameters
   (`:name`, `?1`, `@name`, `$name`: looked up with regard to case) and names (tables,
   columns, functions, aliases) are never excused. A value interpolated into an f-string is
   a hole: a word touching it is part of a name (`zone{n}`), never a keyword.
4. *Rows are read by position.* The statements go through the DB-API's `execute`, whose
   rows are tuples while no `row_factory` is set; a keyword's case can only change the
   name of an unaliased result column, which a tuple does not carry. `.query` (sqlite-utils,
   rows as dicts keyed by column name) is not in the list. The gate checks that nothing
   in the package sets a `row_factory`, and excuses nothing if something does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

EXECUTE = frozenset({"execute", "executemany", "executescript"})

# https://sqlite.org/lang_keywords.html: the 147 keywords of SQLite 3.
SQLITE_KEYWORDS = frozenset(
    """
    ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT
    CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT
    DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT
    EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL
    GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER
    INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED
    NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER
    PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP
    REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT
    SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE
    UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT
    """.split()  # noqa: SIM905 - the list as the SQLite page prints it, 147 words
)
_HOLE = "\0"  # an interpolated value, in the text the tokenizer reads
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$" + _HOLE)
_CLOSING = {"'": "'", '"': '"', "`": "`", "[": "]"}


def sql_case_only(mutated_module: str, mutant: str) -> bool:
    """Whether `mutant` (mutmut's name for it) only changes the case of SQL keywords in a
    SQL statement's strings, in the mutated module's source `mutated_module`."""
    function = mutant.rpartition(".")[2]
    original = function.partition("__mutmut_")[0] + "__mutmut_orig"
    found = _functions(ast.parse(mutated_module), {original, function})
    if len(found) != 2:
        return False
    changed = _changed_strings(found[original], found[function])
    if changed is None or len(changed) != 1:
        return False
    [(old, new)] = changed
    for pieces in _statements(found[original]):
        keyword_chars = _keyword_positions(pieces, old)
        if keyword_chars is not None:
            return _only_keyword_case(old.value, new.value, keyword_chars)
    return False


def _functions(tree: ast.Module, names: set[str]) -> dict[str, ast.FunctionDef]:
    """The named functions, at module level or in a class body (mutmut writes a method's
    copies beside it)."""
    found = {}
    for node in tree.body:
        body = node.body if isinstance(node, ast.ClassDef) else [node]
        for child in body:
            if isinstance(child, ast.FunctionDef) and child.name in names:
                found[child.name] = child
    return found


def _changed_strings(
    old: ast.FunctionDef, new: ast.FunctionDef
) -> list[tuple[ast.Constant, ast.Constant]] | None:
    """The pairs of string constants that differ; None when anything else differs."""
    changed: list[tuple[ast.Constant, ast.Constant]] = []

    def same(a: object, b: object) -> bool:
        if isinstance(a, ast.AST) and isinstance(b, ast.AST):
            if type(a) is not type(b):
                return False
            if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
                if isinstance(a.value, str) and isinstance(b.value, str):
                    if a.value != b.value:
                        changed.append((a, b))
                    return True
                return type(a.value) is type(b.value) and a.value == b.value
            return all(same(getattr(a, name), getattr(b, name)) for name in a._fields)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    fields = ("args", "body", "decorator_list", "returns")  # all but the two names
    return changed if all(same(getattr(old, f), getattr(new, f)) for f in fields) else None


def _statements(function: ast.FunctionDef) -> Iterator[list[ast.expr]]:
    """Each SQL statement the function hands to `execute`, as its pieces in order:
    string constants, and anything else as a hole."""
    assigned = _assignments(function)
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in EXECUTE
        ):
            continue
        statement = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg == "sql":
                statement = keyword.value
        if isinstance(statement, ast.Name):
            yield from (_pieces(value) for value in assigned.get(statement.id, []))
        elif statement is not None:
            yield from _alternatives(statement)


def _assignments(function: ast.FunctionDef) -> dict[str, list[ast.expr]]:
    """The values the function assigns to each plain local name."""
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            pairs = [(target, node.value) for target in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        else:
            continue
        for target, value in pairs:
            if isinstance(target, ast.Name):
                assigned.setdefault(target.id, []).append(value)
    return assigned


def _alternatives(expr: ast.expr) -> Iterator[list[ast.expr]]:
    """The statements an expression may be: both branches of `a if c else b`."""
    if isinstance(expr, ast.IfExp):
        yield from _alternatives(expr.body)
        yield from _alternatives(expr.orelse)
    else:
        yield _pieces(expr)


def _pieces(expr: ast.expr) -> list[ast.expr]:
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return [*_pieces(expr.left), *_pieces(expr.right)]
    if isinstance(expr, ast.JoinedStr):
        return list(expr.values)
    return [expr]


def _keyword_positions(pieces: list[ast.expr], target: ast.Constant) -> set[int] | None:
    """The offsets, within `target`, of characters in SQL keywords; None when `target`
    is not one of the statement's pieces."""
    text, starts = "", {}
    for piece in pieces:
        if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
            starts[id(piece)] = len(text)
            text += piece.value
        else:
            text += _HOLE
    if id(target) not in starts:
        return None
    start, end = starts[id(target)], starts[id(target)] + len(target.value)
    return {at - start for at in _keyword_chars(text) if start <= at < end}


def _keyword_chars(text: str) -> Iterator[int]:
    """The offsets of the characters of SQL keywords in `text`, outside quotes,
    comments and parameters."""
    at, size = 0, len(text)
    while at < size:
        char = text[at]
        if char in _CLOSING:
            close = text.find(_CLOSING[char], at + 1)
            at = size if close < 0 else close + 1
        elif text.startswith("--", at):
            close = text.find("\n", at)
            at = size if close < 0 else close + 1
        elif text.startswith("/*", at):
            close = text.find("*/", at + 2)
            at = size if close < 0 else close + 2
        elif char in _WORD:
            end = at
            while end < size and text[end] in _WORD:
                end += 1
            parameter = at > 0 and text[at - 1] in ":@?"
            if not parameter and text[at:end].upper() in SQLITE_KEYWORDS:
                yield from range(at, end)
            at = end
        else:
            at += 1


def _only_keyword_case(old: str, new: str, keyword_chars: set[int]) -> bool:
    if len(old) != len(new) or old == new:
        return False
    return all(
        at in keyword_chars and a.isascii() and a.lower() == b.lower()
        for at, (a, b) in enumerate(zip(old, new, strict=True))
        if a != b
    )
