"""The SLS content-template language, as far as the sandbox's alert engine needs it.

New-version templates are Jinja-like (https://www.alibabacloud.com/help/en/sls/variables-in-new-alert-templates):
`{{ expr }}`, `{% if expr %}...{% elif %}...{% else %}...{% endif %}`, `{% for x in expr %}...{% endfor %}`,
`-%}` / `{%-` trimming the whitespace after / before a tag, and filters after `|`. Old-style
`${name}` variables are filled too (the ACK guide's templates use both). A missing variable renders
as an empty string and an object as JSON, as SLS documents.

Expressions are parsed with Python's `ast` in eval mode and only a safe subset is evaluated: names,
attribute and item access (both look up dict keys), slices, literals, comparisons, `and`/`or`/`not`,
`+`/`-`. Anything else renders empty.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_TAG = re.compile(r"(\{\{-?.*?-?\}\}|\{%-?.*?-?%\})", re.S)
_OLD_VARIABLE = re.compile(r"\$\{(\w+)\}")


class TemplateError(ValueError):
    """The template's structure is broken (an unclosed block)."""


# -- expressions ----------------------------------------------------------------------------------

def _lookup(obj: Any, key: Any) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    if isinstance(obj, (list, tuple, str)) and isinstance(key, (int, slice)):
        try:
            return obj[key]
        except IndexError:
            return None
    return None


def _eval(node: ast.AST, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, scope)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        return _lookup(_eval(node.value, scope), node.attr)
    if isinstance(node, ast.Subscript):
        return _lookup(_eval(node.value, scope), _eval(node.slice, scope))
    if isinstance(node, ast.Slice):
        parts = [None if p is None else _eval(p, scope) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, scope) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else next((v for v in values if v), values[-1])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, scope)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_number(_eval(node.operand, scope))
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        left, right = _eval(node.left, scope), _eval(node.right, scope)
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            return left + right
        return _number(left) + _number(right) if isinstance(node.op, ast.Add) else _number(left) - _number(right)
    if isinstance(node, ast.Compare):
        return _compare(node, scope)
    return None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
            ast.Gt: lambda a, b: _number(a) > _number(b), ast.GtE: lambda a, b: _number(a) >= _number(b),
            ast.Lt: lambda a, b: _number(a) < _number(b), ast.LtE: lambda a, b: _number(a) <= _number(b),
            ast.In: lambda a, b: b is not None and a in b, ast.NotIn: lambda a, b: b is None or a not in b}


def _compare(node: ast.Compare, scope: dict[str, Any]) -> bool:
    left = _eval(node.left, scope)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _eval(comparator, scope)
        check = _COMPARE.get(type(op))
        if check is None or not check(left, right):
            return False
        left = right
    return True


def _split_filters(expr: str) -> list[str]:
    """`a | f | g` -> ["a", "f", "g"], ignoring `|` inside quotes."""
    parts, current, quote = [], [], ""
    for ch in expr:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def evaluate(expr: str, scope: dict[str, Any]) -> Any:
    head, *filters = _split_filters(expr)
    try:
        value = _eval(ast.parse(head, mode="eval"), scope)
    except SyntaxError:
        return None
    for name in filters:
        value = _FILTERS.get(name.split("(", 1)[0].strip(), lambda v, s: v)(value, scope)
    return value


def _severity_name(value: Any, scope: dict[str, Any]) -> Any:
    names = scope.get("__severity_names__") or {}
    try:
        return names.get(int(value), value)
    except (TypeError, ValueError):
        return value


_FILTERS = {
    "length": lambda v, s: len(v) if isinstance(v, (list, dict, str)) else 0,
    "count": lambda v, s: len(v) if isinstance(v, (list, dict, str)) else 0,
    "to_json": lambda v, s: json.dumps(v, ensure_ascii=False),
    "format_severity": _severity_name,
    "format_date": lambda v, s: v,
    "format_status": lambda v, s: v,
}


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- structure ------------------------------------------------------------------------------------

def _tokens(text: str) -> list[tuple[str, str]]:
    """("text", s) | ("expr", inner) | ("tag", inner), with Jinja's `-` trimming applied."""
    pieces = _TAG.split(text)
    out: list[tuple[str, str]] = []
    trim_next = False
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if trim_next:
                piece = piece.lstrip()
            out.append(("text", piece))
            trim_next = False
            continue
        is_expr = piece.startswith("{{")
        inner = piece[2:-2]
        if inner.startswith("-"):
            inner = inner[1:]
            if out and out[-1][0] == "text":
                out[-1] = ("text", out[-1][1].rstrip())
        if inner.endswith("-"):
            inner = inner[:-1]
            trim_next = True
        out.append(("expr" if is_expr else "tag", inner.strip()))
    return out


def _parse(tokens: list[tuple[str, str]], pos: int, stops: tuple[str, ...]) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    while pos < len(tokens):
        kind, value = tokens[pos]
        if kind == "tag":
            word = value.split(None, 1)[0] if value else ""
            if word in stops:
                return nodes, pos
            if word == "if":
                node, pos = _parse_if(tokens, pos)
                nodes.append(node)
                continue
            if word == "for":
                node, pos = _parse_for(tokens, pos)
                nodes.append(node)
                continue
            pos += 1   # an unknown tag renders as nothing
            continue
        nodes.append((kind, value))
        pos += 1
    if stops:
        raise TemplateError(f"unclosed block: expected one of {', '.join(stops)}")
    return nodes, pos


def _parse_if(tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
    branches: list[tuple[str | None, list[Any]]] = []
    condition: str | None = tokens[pos][1].split(None, 1)[1] if " " in tokens[pos][1] else "False"
    pos += 1
    while True:
        body, pos = _parse(tokens, pos, ("elif", "else", "endif"))
        branches.append((condition, body))
        word = tokens[pos][1].split(None, 1)
        pos += 1
        if word[0] == "endif":
            return ("if", branches), pos
        condition = word[1] if word[0] == "elif" and len(word) > 1 else None


def _parse_for(tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
    match = re.fullmatch(r"for\s+(\w+)\s+in\s+(.+)", tokens[pos][1], re.S)
    body, end = _parse(tokens, pos + 1, ("endfor",))
    if match is None:
        return ("text", ""), end + 1
    return ("for", match[1], match[2], body), end + 1


def _render_nodes(nodes: list[Any], scope: dict[str, Any]) -> str:
    out: list[str] = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "expr":
            out.append(text_of(evaluate(node[1], scope)))
        elif node[0] == "if":
            for condition, body in node[1]:
                if condition is None or evaluate(condition, scope):
                    out.append(_render_nodes(body, scope))
                    break
        elif node[0] == "for":
            items = evaluate(node[2], scope)
            for index, item in enumerate(items if isinstance(items, (list, tuple)) else []):
                loop = {"index": index + 1, "index0": index, "first": index == 0,
                        "last": index == len(items) - 1, "length": len(items)}
                out.append(_render_nodes(node[3], {**scope, node[1]: item, "loop": loop}))
    return "".join(out)


def render(template: str, scope: dict[str, Any], old_variables: dict[str, str]) -> str:
    """`template` filled from `scope` (new-style) and `old_variables` (`${name}`)."""
    nodes, _ = _parse(_tokens(template), 0, ())
    text = _render_nodes(nodes, scope)
    return _OLD_VARIABLE.sub(lambda m: old_variables.get(m[1], ""), text)
