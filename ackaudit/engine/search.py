"""The search part of an SLS query (`<search> | <sql>`): split, lex, parse into a small AST.

Grammar (keywords case-insensitive, precedence `not` > `and` > `or`):

    query   := or_expr
    or_expr := and_expr ("or" and_expr)*
    and_expr:= not_expr (["and"] not_expr | "not" not_expr)*     # "a not b" == "a and not b"
    not_expr:= "not" not_expr | primary
    primary := "(" or_expr ")" | "*" | key ":" value | key op number
             | key "in" ("["|"(") number number ("]"|")") | value
    op      := ">" | ">=" | "<" | "<=" | "="

Values are matched token by token, case-insensitively (the matcher folds case, so tokens keep
the spelling of the query), with the SLS default delimiters (`DELIMITERS`). Unquoted values may use `*` (any run of token characters) and `?` (one token
character), but not at the start of a token. Inside double quotes every character is literal;
`\\"` stands for `"` and `\\\\` for `\\` (the SLS escaping rules), see `quote_value`.

This module imports nothing heavy: the CLI uses `quote_value` at start-up.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ackaudit.engine.errors import invalid

DELIMITERS = frozenset(", '\";=()[]{}?@&<>/:\n\t\r")


def tokenize(text: str) -> list[str]:
    """The lower-cased tokens SLS indexes for `text` with the default delimiters."""
    out: list[str] = []
    current: list[str] = []
    for ch in text.lower():
        if ch in DELIMITERS:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        out.append("".join(current))
    return out


def quote_value(value: str) -> str:
    """`value` as a double-quoted search value that matches exactly that literal text."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_query(query: str) -> tuple[str, str]:
    """(search, sql) split on the first `|` outside double quotes; search "*" when empty."""
    in_quotes = False
    escaped = False
    for i, ch in enumerate(query):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == "|" and not in_quotes:
            return query[:i].strip() or "*", query[i + 1:].strip()
    return query.strip() or "*", ""


# -- AST ------------------------------------------------------------------------------------

class Wildcard(enum.Enum):
    ANY = "*"   # any run of token characters
    ONE = "?"   # exactly one token character


# One token of a search value: literal text pieces and wildcards, e.g. ("nginx", Wildcard.ANY).
Token = tuple["str | Wildcard", ...]


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class Match:
    """`key: value` (or a bare value, full text when key is None): the value's tokens appear
    consecutively among the field's tokens. No tokens means nothing matches."""
    key: str | None
    tokens: tuple[Token, ...]


@dataclass(frozen=True)
class IsEmpty:
    """`key: ""`: the field is present with an empty value."""
    key: str


@dataclass(frozen=True)
class Exists:
    """`key: *`."""
    key: str


@dataclass(frozen=True)
class Compare:
    key: str
    op: str           # one of > >= < <= =
    number: float


@dataclass(frozen=True)
class Range:
    key: str
    low: float
    high: float
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = MatchAll | Match | IsEmpty | Exists | Compare | Range | And | Or | Not


def keys_of(node: Node) -> set[str]:
    """Every field name the search addresses."""
    if isinstance(node, (And, Or)):
        return keys_of(node.left) | keys_of(node.right)
    if isinstance(node, Not):
        return keys_of(node.operand)
    key = getattr(node, "key", None)
    return {key} if key is not None else set()


# -- lexer ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Lexeme:
    kind: str            # "word" | "string" | "op" | "(" | ")" | "[" | "]"
    text: str            # words keep their backslash escapes; strings are unescaped
    pos: int
    escaped: frozenset[int] = frozenset()   # for words: indexes of characters written as \x


_OPERATORS = (">=", "<=", ">", "<", "=", ":")
_WORD_STOP = frozenset(' \t\r\n()[]":<>=')


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()[]":
            out.append(_Lexeme(ch, ch, i))
            i += 1
        elif ch == '"':
            start, i, chars = i, i + 1, []
            while True:
                if i >= n:
                    raise invalid(f"syntax error at position {start}: unterminated quoted value")
                if text[i] == "\\" and i + 1 < n:
                    chars.append(text[i + 1])
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                else:
                    chars.append(text[i])
                    i += 1
            out.append(_Lexeme("string", "".join(chars), start))
        elif any(text.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if text.startswith(op, i))
            out.append(_Lexeme("op", op, i))
            i += len(op)
        else:
            start, chars, escaped = i, [], set()
            while i < n and text[i] not in _WORD_STOP:
                if text[i] == "\\" and i + 1 < n:
                    escaped.add(len(chars))
                    chars.append(text[i + 1])
                    i += 2
                else:
                    chars.append(text[i])
                    i += 1
            out.append(_Lexeme("word", "".join(chars), start, frozenset(escaped)))
    return out


# -- values -> tokens -----------------------------------------------------------------------

def _value_tokens(text: str, wild: frozenset[int], pos: int) -> tuple[Token, ...]:
    """Split a value into tokens; characters at the `wild` indexes are wildcards."""
    tokens: list[Token] = []
    pieces: list[str | Wildcard] = []
    literal: list[str] = []

    def end_literal() -> None:
        if literal:
            pieces.append("".join(literal))
            literal.clear()

    def end_token() -> None:
        end_literal()
        if pieces:
            if isinstance(pieces[0], Wildcard):
                raise invalid(f"syntax error at position {pos}: a value cannot start with a wildcard "
                              f"('*' or '?'); quote it to search for the character")
            tokens.append(tuple(pieces))
            pieces.clear()

    for i, ch in enumerate(text):
        if i in wild:
            end_literal()
            pieces.append(Wildcard(ch))
        elif ch in DELIMITERS:
            end_token()
        else:
            literal.append(ch)
    end_token()
    return tuple(tokens)


def _word_wildcards(lexeme: _Lexeme) -> frozenset[int]:
    return frozenset(i for i, ch in enumerate(lexeme.text) if ch in "*?" and i not in lexeme.escaped)


def _value_node(key: str | None, lexeme: _Lexeme) -> Node:
    if lexeme.kind == "string":
        if key is not None and lexeme.text == "":
            return IsEmpty(key)
        return Match(key, _value_tokens(lexeme.text, frozenset(), lexeme.pos))
    if lexeme.text == "*" and not lexeme.escaped:
        return Exists(key) if key is not None else MatchAll()
    return Match(key, _value_tokens(lexeme.text, _word_wildcards(lexeme), lexeme.pos))


# -- parser ---------------------------------------------------------------------------------

_KEYWORDS = ("and", "or", "not")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lexemes = _lex(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> _Lexeme | None:
        j = self.i + ahead
        return self.lexemes[j] if j < len(self.lexemes) else None

    def take(self) -> _Lexeme:
        lexeme = self.peek()
        if lexeme is None:
            raise invalid(f"syntax error at position {len(self.text)}: the search ends too early")
        self.i += 1
        return lexeme

    def is_keyword(self, word: str, ahead: int = 0) -> bool:
        lexeme = self.peek(ahead)
        return (lexeme is not None and lexeme.kind == "word" and not lexeme.escaped
                and lexeme.text.lower() == word)

    def error(self, lexeme: _Lexeme | None, what: str) -> Exception:
        if lexeme is None:
            return invalid(f"syntax error at position {len(self.text)}: {what}, found the end of the search")
        return invalid(f"syntax error at position {lexeme.pos}: {what}, found {lexeme.text!r}")

    def parse(self) -> Node:
        if not self.lexemes:
            return MatchAll()
        node = self.or_expr()
        if self.peek() is not None:
            raise self.error(self.peek(), "expected 'and', 'or', 'not' or a condition")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.is_keyword("or"):
            self.take()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while True:
            if self.is_keyword("and"):
                self.take()
                node = And(node, self.not_expr())
            elif self.is_keyword("not"):
                self.take()
                node = And(node, Not(self.not_expr()))
            elif self.starts_condition():
                node = And(node, self.not_expr())
            else:
                return node

    def starts_condition(self) -> bool:
        lexeme = self.peek()
        if lexeme is None or self.is_keyword("or") or self.is_keyword("and"):
            return False
        return lexeme.kind in ("word", "string", "(")

    def not_expr(self) -> Node:
        if self.is_keyword("not"):
            self.take()
            return Not(self.not_expr())
        return self.primary()

    def primary(self) -> Node:
        lexeme = self.take()
        if lexeme.kind == "(":
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise self.error(closing, f"expected ')' to close the '(' at position {lexeme.pos}")
            self.take()
            return node
        if lexeme.kind == "string":
            return _value_node(None, lexeme)
        if lexeme.kind != "word" or (lexeme.text.lower() in _KEYWORDS and not lexeme.escaped):
            raise self.error(lexeme, "expected a condition")
        key = self.key_from(lexeme)
        following = self.peek()
        if following is not None and following.kind == "op":
            self.take()
            if following.text == ":":
                value = self.peek()
                if value is None or value.kind not in ("word", "string"):
                    raise self.error(value, f"expected a value after '{key}:'")
                return _value_node(key, self.take())
            return Compare(key, following.text, self.number())
        if self.is_keyword("in") and self.starts_range():
            return self.range(key)
        return _value_node(None, lexeme)

    def key_from(self, lexeme: _Lexeme) -> str:
        """The field name; `__tag__:name` is one key although it contains the ':' operator."""
        key = lexeme.text
        if key == "__tag__" and self.is_op(":") and self.peek(1) is not None and self.peek(1).kind == "word" \
                and self.is_op(":", 2):
            self.take()
            key = f"__tag__:{self.take().text}"
        return key

    def is_op(self, op: str, ahead: int = 0) -> bool:
        lexeme = self.peek(ahead)
        return lexeme is not None and lexeme.kind == "op" and lexeme.text == op

    def starts_range(self) -> bool:
        opening = self.peek(1)
        return opening is not None and opening.kind in ("[", "(")

    def range(self, key: str) -> Node:
        self.take()                      # "in"
        opening = self.take()
        low, high = self.number(), self.number()
        closing = self.take()
        if closing.kind not in ("]", ")"):
            raise self.error(closing, "expected ']' or ')' to close the range")
        return Range(key, low, high, opening.kind == "[", closing.kind == "]")

    def number(self) -> float:
        lexeme = self.peek()
        if lexeme is None or lexeme.kind != "word" or not _NUMBER.fullmatch(lexeme.text):
            raise self.error(lexeme, "expected a number")
        self.take()
        return float(lexeme.text)


def parse_search(text: str) -> Node:
    """The AST of a search statement; raises QueryError(ParameterInvalid) on a syntax error."""
    return _Parser(text).parse()
