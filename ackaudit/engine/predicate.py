"""Compile a search AST into a DuckDB boolean expression with bound parameters.

Values never become SQL text: every literal is a `?` parameter. Token matching is a
case-insensitive RE2 match anchored on delimiters, guarded by a cheap substring test on the
longest literal piece so that the regular expression only runs on candidate rows. Several
alternatives on one field (`traceId: a or traceId: b or ...`) become one regular expression with
an alternation and no guard: each guard lower-cases the column again, so ten of them cost six
times one alternation (measured over a million rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ackaudit.engine.search import (
    DELIMITERS,
    And,
    Compare,
    Exists,
    IsEmpty,
    Match,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    Token,
    Wildcard,
)

# Resolves a search key to its column name, None when the store has no such column (the
# condition is then false); raises QueryError when the index forbids the key.
Resolver = Callable[[str], "str | None"]

_DELIMITER_CLASS = "[" + "".join(f"\\x{{{ord(_ch):02x}}}" for _ch in sorted(DELIMITERS)) + "]"
_TOKEN_CHAR = "[^" + _DELIMITER_CLASS[1:]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _regex_literal(text: str) -> str:
    out = []
    for ch in text:
        if ch.isalnum() or ord(ch) > 127:
            out.append(ch)
        elif 32 < ord(ch) < 127:
            out.append("\\" + ch)
        else:
            out.append(f"\\x{{{ord(ch):x}}}")
    return "".join(out)


def _token_regex(token: Token) -> str:
    parts = []
    for piece in token:
        if piece is Wildcard.ANY:
            parts.append(_TOKEN_CHAR + "*")
        elif piece is Wildcard.ONE:
            parts.append(_TOKEN_CHAR)
        else:
            parts.append(_regex_literal(piece))
    return "".join(parts)


def _phrase_regex(tokens: Sequence[Token]) -> str:
    return (_DELIMITER_CLASS + "+").join(_token_regex(t) for t in tokens)


def token_pattern(tokens: Sequence[Token]) -> str:
    """RE2 pattern matching `tokens` as consecutive whole tokens of a text."""
    return any_phrase_pattern([tokens])


def any_phrase_pattern(phrases: Sequence[Sequence[Token]]) -> str:
    """RE2 pattern matching a text holding any of `phrases`, each as consecutive whole tokens."""
    body = "|".join(_phrase_regex(tokens) for tokens in phrases)
    return f"(?:^|{_DELIMITER_CLASS})(?:{body})(?:{_DELIMITER_CLASS}|$)"


def _alternatives(node: Node) -> list[Node]:
    """The operands of a chain of ORs, in order."""
    if isinstance(node, Or):
        return [*_alternatives(node.left), *_alternatives(node.right)]
    return [node]


def _longest_literal(tokens: Sequence[Token]) -> str:
    pieces = [p for t in tokens for p in t if isinstance(p, str)]
    return max(pieces, key=len, default="")


class _Compiler:
    def __init__(self, resolve: Resolver, fulltext_columns: Sequence[str]) -> None:
        self.resolve = resolve
        self.fulltext_columns = list(fulltext_columns)
        self.params: list[Any] = []

    def compile(self, node: Node) -> str:
        if isinstance(node, MatchAll):
            return "TRUE"
        if isinstance(node, And):
            return f"({self.compile(node.left)} AND {self.compile(node.right)})"
        if isinstance(node, Or):
            return self.any_of(_alternatives(node))
        if isinstance(node, Not):
            # Leaves yield NULL for rows without the field; NOT must treat that as "no match".
            return f"(NOT coalesce({self.compile(node.operand)}, FALSE))"
        if isinstance(node, Match) and node.key is None:
            if not node.tokens or not self.fulltext_columns:
                return "FALSE"
            return "(" + " OR ".join(self.match(c, node.tokens) for c in self.fulltext_columns) + ")"
        column = self.resolve(node.key)
        if column is None:
            return "FALSE"
        col = quote_identifier(column)
        if isinstance(node, Match):
            return self.match(column, node.tokens) if node.tokens else "FALSE"
        if isinstance(node, IsEmpty):
            return f"({col} = '')"
        if isinstance(node, Exists):
            return f"({col} IS NOT NULL)"
        if isinstance(node, Compare):
            self.params.append(node.number)
            return f"(TRY_CAST({col} AS DOUBLE) {node.op} ?)"
        if isinstance(node, Range):
            self.params.extend([node.low, node.high])
            low = ">=" if node.low_closed else ">"
            high = "<=" if node.high_closed else "<"
            return f"(TRY_CAST({col} AS DOUBLE) {low} ? AND TRY_CAST({col} AS DOUBLE) {high} ?)"
        raise TypeError(f"unknown search node {node!r}")

    def any_of(self, alternatives: list[Node]) -> str:
        """OR of the alternatives, the keyed matches on one column merged into one regex where the
        first of them stood (OR is commutative; NULL OR x is the same whichever comes first).
        Parts are compiled in the order they are written, so the parameters follow the text."""
        phrases: dict[str, list[tuple[Token, ...]]] = {}
        parts: list[Node | str] = []            # a node, or the column of a merged group
        for node in alternatives:
            column = self.resolve(node.key) if isinstance(node, Match) and node.key is not None and node.tokens else None
            if column is None:
                parts.append(node)
                continue
            if column not in phrases:
                phrases[column] = []
                parts.append(column)
            phrases[column].append(node.tokens)
        compiled = []
        for part in parts:
            if not isinstance(part, str):
                compiled.append(self.compile(part))
            elif len(phrases[part]) == 1:
                compiled.append(self.match(part, phrases[part][0]))
            else:
                self.params.append(any_phrase_pattern(phrases[part]))
                compiled.append(f"regexp_matches({quote_identifier(part)}, ?, 'i')")
        return "(" + " OR ".join(compiled) + ")"

    def match(self, column: str, tokens: Sequence[Token]) -> str:
        col = quote_identifier(column)
        literal = _longest_literal(tokens)
        # Both sides are lower-cased by DuckDB, so the guard agrees with the regex's case folding.
        self.params.append(literal)
        if len(tokens) == 1 and all(isinstance(piece, str) for piece in tokens[0]):
            # A field that is exactly the token (`kind: Command`) matches without the regex: a token
            # holds no delimiter, so the whole value is one token. Half the time of a statement over
            # a million rows. (Inside the AND: an OR at the top would keep DuckDB from filtering
            # before a file's view builds its JSON columns, four times slower.)
            self.params.extend(["".join(tokens[0]), token_pattern(tokens)])
            return f"(contains(lower({col}), lower(?)) AND ({col} = ? OR regexp_matches({col}, ?, 'i')))"
        self.params.append(token_pattern(tokens))
        return f"(contains(lower({col}), lower(?)) AND regexp_matches({col}, ?, 'i'))"


def compile_predicate(node: Node, resolve: Resolver, fulltext_columns: Sequence[str]) -> tuple[str, list[Any]]:
    """(SQL boolean expression, its parameters in order)."""
    compiler = _Compiler(resolve, fulltext_columns)
    return compiler.compile(node), compiler.params
