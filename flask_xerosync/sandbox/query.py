"""``where``/``order`` (the simple forms Xero documents), explicit filters and paging."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .errors import ApiError, query_parse_exception

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<guid>[Gg]uid\(\s*"[^"]*"\s*\))
      | (?P<op>==|!=|&&|\|\||[()<>]=?|!)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.(?![A-Za-z]+\s*\()[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<call>\.[A-Za-z]+\(\s*"(?:[^"\\]|\\.)*"\s*\))
    )""",
    re.VERBOSE,
)
_CALL_RE = re.compile(r'\.(?P<name>[A-Za-z]+)\(\s*"(?P<arg>(?:[^"\\]|\\.)*)"\s*\)')
_STRING_METHODS = {"Contains", "StartsWith", "EndsWith"}
_ESCAPE_RE = re.compile(r'\\(["\\])')
_UNSUPPORTED_HINT = (
    'The sandbox supports Field=="value", Field!="value", Field==true/false, Field==null, '
    'Field==guid("…"), Field.Contains("…")/StartsWith/EndsWith, joined with && or AND.'
)

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Clause:
    path: tuple[str, ...]
    op: str  # "==", "!=", or a string method name
    value: Any


def _unsupported(expression: str, why: str) -> ApiError:
    return ApiError(400, query_parse_exception(f"Unsupported where clause '{expression}': {why}. {_UNSUPPORTED_HINT}"))


def _tokens(expression: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise _unsupported(expression, f"cannot parse near '{text[pos:pos + 20]}'")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _unescape(text: str) -> str:
    """A string literal's text with ``\\"`` and ``\\\\`` decoded (the escapes clients send for a
    double quote or a backslash); any other character, non-ASCII included, is kept as written."""
    return _ESCAPE_RE.sub(r"\1", text)


def _literal(kind: str, text: str, expression: str) -> Any:
    if kind == "string":
        return _unescape(text[1:-1])
    if kind == "guid":
        raw = text[text.index('"') + 1 : text.rindex('"')]
        try:
            return str(uuid.UUID(raw))
        except ValueError as exc:
            raise _unsupported(expression, f"'{raw}' is not a GUID") from exc
    if kind == "number":
        return Decimal(text)
    if kind == "word" and text in ("true", "false"):
        return text == "true"
    if kind == "word" and text == "null":
        return None
    raise _unsupported(expression, f"'{text}' is not a literal")


def parse_where(expression: str, type_name: str, fields: set[str]) -> list[Clause]:
    tokens = _tokens(expression)
    clauses: list[Clause] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind != "word":
            raise _unsupported(expression, f"expected a field name, found '{text}'")
        path = tuple(text.split("."))
        if path[0] not in fields:
            raise ApiError(
                400, query_parse_exception(f"No property or field '{path[0]}' exists in type '{type_name}'")
            )
        if i + 1 < len(tokens) and tokens[i + 1][0] == "call":
            call = _CALL_RE.fullmatch(tokens[i + 1][1].strip())
            if not call or call.group("name") not in _STRING_METHODS:
                raise _unsupported(expression, f"method '{tokens[i + 1][1]}' is not supported")
            clauses.append(Clause(path, call.group("name"), _unescape(call.group("arg"))))
            i += 2
        elif i + 2 < len(tokens) and tokens[i + 1] in (("op", "=="), ("op", "!=")):
            value = _literal(tokens[i + 2][0], tokens[i + 2][1], expression)
            clauses.append(Clause(path, tokens[i + 1][1], value))
            i += 3
        else:
            found = tokens[i + 1][1] if i + 1 < len(tokens) else "end of expression"
            raise _unsupported(expression, f"operator '{found}' is not supported")
        if i < len(tokens):
            if tokens[i] == ("op", "&&") or tokens[i] == ("word", "AND"):
                i += 1
                if i == len(tokens):
                    raise _unsupported(expression, "dangling &&")
            else:
                raise _unsupported(expression, f"'{tokens[i][1]}' is not supported (only && / AND)")
    return clauses


def _resolve(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _type_label(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (Decimal, int, float)):
        return "Decimal"
    if isinstance(value, datetime):
        return "DateTime"
    return "String"


def _matches(clause: Clause, value: Any) -> bool:
    if clause.op in _STRING_METHODS:
        if not isinstance(value, str):
            return False
        hay, needle = value.casefold(), str(clause.value).casefold()
        if clause.op == "Contains":
            return needle in hay
        if clause.op == "StartsWith":
            return hay.startswith(needle)
        return hay.endswith(needle)
    expected = clause.value
    if isinstance(value, str) and isinstance(expected, str):
        equal = value.casefold() == expected.casefold()
    elif isinstance(value, (Decimal, int)) and not isinstance(value, bool) and isinstance(expected, Decimal):
        equal = Decimal(value) == expected
    else:
        equal = value == expected
    return equal if clause.op == "==" else not equal


def where_predicate(
    expression: str | None, type_name: str, fields: set[str], sample: dict[str, Any] | None
) -> Predicate | None:
    if not expression or not expression.strip():
        return None
    clauses = parse_where(expression, type_name, fields)
    if sample is not None:
        for clause in clauses:
            value = _resolve(sample, clause.path)
            if (
                clause.op in ("==", "!=")
                and value is not None
                and clause.value is not None
                and _type_label(value) != _type_label(clause.value)
            ):
                raise ApiError(
                    400,
                    query_parse_exception(
                        f"Operator '{clause.op}' incompatible with operand types "
                        f"'{_type_label(value)}' and '{_type_label(clause.value)}'"
                    ),
                )

    def predicate(record: dict[str, Any]) -> bool:
        return all(_matches(c, _resolve(record, c.path)) for c in clauses)

    return predicate


def order_records(
    records: list[dict[str, Any]], order: str | None, type_name: str, fields: set[str]
) -> list[dict[str, Any]]:
    if not order or not order.strip():
        return records
    keys: list[tuple[tuple[str, ...], bool]] = []
    for part in order.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise ApiError(
                400, query_parse_exception(f"Unsupported order '{order}': use 'Field ASC' or 'Field DESC'")
            )
        path = tuple(words[0].split("."))
        if path[0] not in fields:
            raise ApiError(
                400, query_parse_exception(f"No property or field '{path[0]}' exists in type '{type_name}'")
            )
        keys.append((path, len(words) == 2 and words[1].upper() == "DESC"))
    ordered = list(records)
    for path, descending in reversed(keys):
        ordered.sort(key=_sort_key_of(path), reverse=descending)
    return ordered


def _sort_key_of(path: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda record: _sort_key(_resolve(record, path))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, bool):
        return (2, int(value))
    if isinstance(value, datetime):
        return (3, value.timestamp())
    return (2, value)


def split_list(raw: str | None) -> list[str]:
    """Comma-separated query values, tolerating quotes and spaces (``"INV-1", "INV-2"``)."""
    if not raw:
        return []
    return [part.strip().strip('"').strip() for part in raw.split(",") if part.strip().strip('"').strip()]


@dataclass
class Paging:
    page: int
    page_size: int


def parse_paging(args: Any) -> Paging | None:
    """``page``/``pageSize`` (either one turns paging on); ``None`` when absent."""
    raw_page, raw_size = args.get("page"), args.get("pageSize")
    if raw_page is None and raw_size is None:
        return None
    try:
        page = int(raw_page) if raw_page not in (None, "") else 1
        size = int(raw_size) if raw_size not in (None, "") else DEFAULT_PAGE_SIZE
    except ValueError as exc:
        raise ApiError(400, query_parse_exception("page and pageSize must be integers")) from exc
    return Paging(max(1, page), max(1, min(MAX_PAGE_SIZE, size)))


def paginate(records: list[Any], paging: Paging) -> tuple[list[Any], dict[str, int]]:
    count = len(records)
    start = (paging.page - 1) * paging.page_size
    meta = {
        "page": paging.page,
        "pageSize": paging.page_size,
        "pageCount": math.ceil(count / paging.page_size) if count else 0,
        "itemCount": count,
    }
    return records[start : start + paging.page_size], meta


def filter_records(records: Iterable[dict[str, Any]], predicates: list[Predicate]) -> list[dict[str, Any]]:
    if not predicates:
        return list(records)
    return [r for r in records if all(p(r) for p in predicates)]
