"""Parser and evaluator for Dolibarr's universal `sqlfilters` syntax, for the fake Dolibarr.

Role: turn `((t.tms:>:'2026-11-22 20:34:30') or (ef.tms:>:'…'))` into a predicate over
in-memory rows, with the server's quirks (local-time literals, `Z` ignored, unquoted dates
coerced, SQL NULL semantics). It must never touch the network, a database or real time:
the caller passes `now` and the server zone. See tests/fixtures/dolibarr/QUIRKS.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

Kind = Literal["int", "float", "str", "datetime", "date"]
Scalar = int | float | str | None
Resolver = Callable[[str], Scalar]

OPERATORS = ("<=", ">=", "!=", "<>", "=", "<", ">", "notlike", "like", "notin", "in", "isnot", "is")
_FIELD_RE = re.compile(r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+|[A-Za-z0-9_]+")
_TERM_START = re.compile(r"\s*[A-Za-z0-9_.]+:")


class SqlFilterSyntaxError(ValueError):
    """The filter is malformed: Dolibarr answers 400 (sqlfilters_malformed_*.json)."""


class UnknownColumnError(LookupError):
    """The filter names a column the table lacks: Dolibarr answers 503 (…unknown_column.json)."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    raw: str  # the value text as written, quotes included


@dataclass(frozen=True)
class BoolOp:
    op: Literal["and", "or"]
    items: tuple[Node, ...]


Node = Term | BoolOp


def check_balance(text: str) -> None:
    """Reject an unbalanced filter as Dolibarr does (sqlfilters_malformed_unbalanced.json).

    Like Dolibarr's dolCheckFilters, every parenthesis counts, quoted or not.
    """
    depth = 0
    for ch in text:
        if ch in "()":
            depth += 1 if ch == "(" else -1
            if depth < 0:
                break
    if depth != 0:
        raise SqlFilterSyntaxError(f"Wrong balance of parenthesis in sqlfilters=({text})")


def parse(text: str) -> Node:
    """Parse a filter; raise SqlFilterSyntaxError with Dolibarr's wording when malformed."""
    check_balance(text)
    parser = _Parser(text)
    node = parser.expr()
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.bad()
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def bad(self) -> SqlFilterSyntaxError:
        # sqlfilters_malformed_operator.json
        return SqlFilterSyntaxError(f"Bad syntax of the search string: {self.text}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def keyword(self, word: str) -> bool:
        self.skip_ws()
        end = self.pos + len(word)
        if self.text[self.pos : end].lower() == word and self.text[end : end + 1] in " (":
            self.pos = end
            return True
        return False

    def expr(self) -> Node:
        items = [self.conj()]
        while self.keyword("or"):
            items.append(self.conj())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def conj(self) -> Node:
        items = [self.atom()]
        while self.keyword("and"):
            items.append(self.atom())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def atom(self) -> Node:
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] != "(":
            raise self.bad()
        self.pos += 1
        node: Node = self.term() if _TERM_START.match(self.text, self.pos) else self.expr()
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] != ")":
            raise self.bad()
        self.pos += 1
        return node

    def term(self) -> Term:
        self.skip_ws()
        field_end = self.text.index(":", self.pos)
        field = self.text[self.pos : field_end]
        op_end = self.text.find(":", field_end + 1)
        op = self.text[field_end + 1 : op_end].lower() if op_end > 0 else ""
        if op not in OPERATORS or not _FIELD_RE.fullmatch(field):
            raise self.bad()
        self.pos = op_end + 1
        return Term(field.lower(), op, self.value())

    def value(self) -> str:
        """Up to the next `)`, quotes or not: Dolibarr's term is `(field:op:[^()]+)`."""
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "()":
            self.pos += 1
        if self.text[self.pos : self.pos + 1] == "(" or self.pos == start:
            raise self.bad()
        return self.text[start : self.pos].strip()


@dataclass(frozen=True)
class Context:
    """What a literal needs to become comparable: the server zone, its clock, column kinds."""

    tz: ZoneInfo
    now: float
    kinds: Mapping[str, Kind]


def columns(node: Node) -> list[str]:
    """Every column a filter names, in order."""
    if isinstance(node, Term):
        return [node.field]
    return [col for item in node.items for col in columns(item)]


def validate(node: Node, kinds: Mapping[str, Kind]) -> None:
    """Raise UnknownColumnError for the first column the table lacks."""
    for col in columns(node):
        if col not in kinds:
            raise UnknownColumnError(col)


def evaluate(node: Node, row: Resolver, ctx: Context) -> bool:
    """True when `row` (a column → value resolver) matches; NULL compares as false."""
    if isinstance(node, BoolOp):
        results = (evaluate(item, row, ctx) for item in node.items)
        return all(results) if node.op == "and" else any(results)
    return _term(node, row(node.field), ctx.kinds[node.field], ctx)


def _term(term: Term, value: Scalar, kind: Kind, ctx: Context) -> bool:
    op = term.op
    if op in ("is", "isnot"):
        if term.raw.strip("'").lower() != "null":
            raise SqlFilterSyntaxError(f"Bad syntax of the search string: ({term.field}:{op}:…)")
        return (value is None) == (op == "is")
    if value is None:
        return False
    if op in ("like", "notlike"):
        # A LIKE value is unquoted only as '[^']*': with a quote inside, the
        # quotes are part of the pattern (dolForgeCriteriaCallback).
        pattern = term.raw[1:-1] if re.fullmatch(r"'[^']*'", term.raw) else term.raw
        return _like(str(value), pattern) == (op == "like")
    if op in ("in", "notin"):
        members = [_literal(part.strip(), kind, ctx) for part in term.raw.split(",")]
        return any(_cmp(value, m) == 0 for m in members) == (op == "in")
    result = _cmp(value, _literal(term.raw, kind, ctx))
    return _OPS[op](result)


_OPS: dict[str, Callable[[int | None], bool]] = {
    "=": lambda c: c == 0,
    "!=": lambda c: c is not None and c != 0,
    "<>": lambda c: c is not None and c != 0,
    "<": lambda c: c is not None and c < 0,
    ">": lambda c: c is not None and c > 0,
    "<=": lambda c: c is not None and c <= 0,
    ">=": lambda c: c is not None and c >= 0,
}


def _cmp(left: Scalar, right: Scalar) -> int | None:
    if left is None or right is None:
        return None
    if isinstance(left, str) or isinstance(right, str):
        x, y = str(left).casefold(), str(right).casefold()  # MariaDB *_ci collations
        return (x > y) - (x < y)
    p, q = float(left), float(right)
    return (p > q) - (p < q)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("\\'", "'")
    return raw


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _literal(raw: str, kind: Kind, ctx: Context) -> Scalar:
    quoted = raw.startswith("'")
    text = _unquote(raw)
    if text == "__NOW__":  # sqlfilters_now_substitution.json
        return ctx.now if kind == "datetime" else text
    if not quoted:
        # bare values lose non [a-z0-9_] chars (sqlfilters_old_style_unquoted_date.json)
        text = re.sub(r"[^A-Za-z0-9_.]", "", text)
    if kind in ("datetime", "date"):
        return local_epoch(text, ctx.tz)
    if kind in ("int", "float"):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def local_epoch(text: str, tz: ZoneInfo) -> float | None:
    """Read a date literal as the database does: server-local, a trailing `Z` ignored.

    sqlfilters_iso8601_T_Z_future.json, v22/sqlfilters_iso8601_T_Z_mid_cutoff.json,
    sqlfilters_unquoted_date_future.json (20300101 → 2030-01-01).
    """
    cleaned = text.strip().rstrip("Zz").replace("T", " ")
    digits = re.sub(r"\D", "", cleaned)
    if re.fullmatch(r"\d{8}(\d{6})?", digits) and not re.search(r"[-:]", cleaned):
        cleaned = digits[:8] if len(digits) == 8 else digits
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d"):
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=tz).timestamp()
    return None


def local_midnight(day: date, tz: ZoneInfo) -> int:
    """The epoch of server-local midnight of `day` (how date extrafields come back)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
