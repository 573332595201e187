"""arXiv API ``search_query`` syntax: parsing into predicates over mirror records.

Supports the field prefixes arXiv documents (``ti au abs co jr cat rn id all``), quoted phrases,
``submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]``, ``AND``/``OR``/``ANDNOT`` and parentheses. Terms
side by side without an operator are joined with AND.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mirror.records import MirrorRecord

Predicate = Callable[[MirrorRecord], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))
        |(?P<field>[A-Za-z]+):(?:"(?P<fphrase>[^"]*)"|\[(?P<range>[^\]]*)\]|(?P<fword>[^\s()]+))
        |"(?P<phrase>[^"]*)"
        |(?P<word>[^\s()]+)
    )""",
    re.VERBOSE,
)
_OPERATORS = {"AND", "OR", "ANDNOT"}
_TEXT_FIELDS = {"ti", "au", "abs", "co", "jr", "rn", "all"}


class QueryError(ValueError):
    """The query cannot be parsed; arXiv answers such queries with HTTP 400."""


@dataclass(frozen=True)
class _Token:
    kind: str  # lparen | rparen | op | term
    value: str = ""
    field: str = "all"
    phrase: bool = False
    range_: str | None = None


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    query = query.strip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot parse search_query near {query[position : position + 20]!r}")
        position = match.end()
        if match["lparen"]:
            tokens.append(_Token("lparen"))
        elif match["rparen"]:
            tokens.append(_Token("rparen"))
        elif match["field"]:
            field = match["field"]
            if match["range"] is not None:
                tokens.append(_Token("term", field=field, range_=match["range"]))
            elif match["fphrase"] is not None:
                tokens.append(_Token("term", value=match["fphrase"], field=field, phrase=True))
            else:
                tokens.append(_Token("term", value=match["fword"], field=field))
        elif match["phrase"] is not None:
            tokens.append(_Token("term", value=match["phrase"], phrase=True))
        elif match["word"] in _OPERATORS:
            tokens.append(_Token("op", match["word"]))
        else:
            tokens.append(_Token("term", value=match["word"]))
    return tokens


def _parse_range(text: str) -> tuple[int, int]:
    parts = text.split(" TO ")
    if len(parts) != 2 or not all(re.fullmatch(r"\d{8}(\d{4})?", part.strip()) for part in parts):
        raise QueryError(f"bad date range [{text}]: expected [YYYYMMDDHHMM TO YYYYMMDDHHMM]")
    low, high = (part.strip() for part in parts)
    return int(low.ljust(12, "0")), int(high.ljust(12, "9") if len(high) == 8 else high)


def _term_predicate(token: _Token) -> Predicate:
    field = token.field
    if field in {"submittedDate", "lastUpdatedDate"}:
        if token.range_ is None:
            raise QueryError(f"{field} needs a range [FROM TO UNTIL]")
        low, high = _parse_range(token.range_)
        attribute = "submitted_key" if field == "submittedDate" else "updated_key"
        return lambda record: low <= getattr(record, attribute) <= high
    if field == "cat":
        wanted = token.value
        if wanted.endswith("*"):
            prefix = wanted[:-1]
            return lambda record: any(category.startswith(prefix) for category in record.categories)
        return lambda record: wanted in record.categories
    if field == "id":
        wanted_id = token.value.split("v")[0] if re.fullmatch(r"[\d.]+v\d+", token.value) else token.value
        return lambda record: record.arxiv_id == wanted_id
    if field not in _TEXT_FIELDS:
        raise QueryError(f"unknown field prefix {field!r}")
    words = re.findall(r"\w+", token.value.lower())
    if not words:
        raise QueryError(f"empty term for field {field!r}")
    if token.phrase:
        phrase = " ".join(words)
        return lambda record: phrase in record.normalized(field)
    return lambda record: all(word in record.words(field) for word in words)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise QueryError("unbalanced parentheses or trailing operator")
        return predicate

    def _or(self) -> Predicate:
        left = self._and()
        while (token := self._peek()) is not None and token.kind == "op" and token.value == "OR":
            self._take()
            right = self._and()
            left = (lambda a, b: lambda record: a(record) or b(record))(left, right)
        return left

    def _and(self) -> Predicate:
        left = self._unary()
        while (token := self._peek()) is not None and token.kind != "rparen":
            if token.kind == "op" and token.value == "OR":
                break
            negate = False
            if token.kind == "op":
                self._take()
                negate = token.value == "ANDNOT"
            right = self._unary()
            if negate:
                left = (lambda a, b: lambda record: a(record) and not b(record))(left, right)
            else:
                left = (lambda a, b: lambda record: a(record) and b(record))(left, right)
        return left

    def _unary(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise QueryError("query ends where a term was expected")
        if token.kind == "lparen":
            self._take()
            inner = self._or()
            closing = self._peek()
            if closing is None or closing.kind != "rparen":
                raise QueryError("missing closing parenthesis")
            self._take()
            return inner
        if token.kind != "term":
            raise QueryError(f"unexpected {token.value or token.kind!r}")
        self._take()
        return _term_predicate(token)


def parse_query(query: str) -> Predicate:
    """A predicate that tells whether a record matches ``query``; raises :class:`QueryError`."""
    tokens = _tokenize(query)
    if not tokens:
        raise QueryError("empty search_query")
    return _Parser(tokens).parse()
