"""Raw audit rows to export lines, a batch at a time, with a field plan per key set.

The rows of one PullLogs batch share a few key sets (`kind`, `time`, ..., `k8s`, `host`, and
`process` or `kubeObject`). For each distinct key set a plan is compiled once: which raw key gives
which output field (a flat dotted column wins over the JSON field it would nest in, keys match in any
casing, the last of two spellings wins), which JSON columns to decode (each once per row) and how to
walk them. The plan is a small generated function, so a row costs a dictionary of its own and a few
lookups rather than lower-casing every key and searching every path.

The events are exactly what `flatten_event`, `full_time`, `risk_of` and `redact_event` make of each
row one by one (tests compare the two field by field): `time` keeps its own fraction of a second,
risk marks and redaction are cached by the values they depend on, and csv cells follow the same
rules. Lines are built as text for a whole batch and written in one go.
"""

from __future__ import annotations

import io
import json
import json.encoder
import json.scanner
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from ackaudit.audit.escape import csv_cell, csv_line
from ackaudit.audit.fields import (
    FIELD_NAMES,
    FIELDS,
    JSON_CONTAINERS,
    KIND_COMMAND,
    OPERATION_POD_EXEC,
    TYPED_VALUE,
    Field,
)

_MISSING = object()
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z")
# One C encoder for every line: what json.dumps(event, ensure_ascii=False, separators=(",", ":")) writes,
# without building an encoder (and its circular-reference bookkeeping) per event.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ENCODE_CHUNKS = (json.encoder.c_make_encoder(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
                                              False, False, True)
                  if json.encoder.c_make_encoder is not None else None)


# -- one row: the generated plan ---------------------------------------------------------------------

def _scan(node: dict[Any, Any], lower: str) -> Any:
    """The first value of `node` whose key matches `lower` in any casing (as `_lookup` does)."""
    for key, value in node.items():
        if str(key).lower() == lower:
            return value
    return _MISSING


_SCAN_ONCE = json.scanner.make_scanner(json.JSONDecoder())   # the C scanner json.loads itself runs


def _decode(value: Any) -> dict[str, Any]:
    """A JSON column as `flatten_event` reads it: an object, else empty. The common case (text that is
    exactly one JSON value) goes straight to the scanner; anything else through json.loads."""
    if type(value) is str and value:
        try:
            decoded, end = _SCAN_ONCE(value, 0)
        except (StopIteration, ValueError):
            end = -1
        if end != len(value):
            try:
                decoded = json.loads(value)
            except ValueError:
                return {}
        return decoded if isinstance(decoded, dict) else {}
    from ackaudit.audit.fields import _as_object

    return _as_object(value)


# The names the generated code calls the converters by.
_TYPED = {kind: f"_{kind}" for kind in TYPED_VALUE}


def _typed_expr(f: Field, typed: str) -> str:
    """The expression converting `v` for field `f`, with the common case inline."""
    if f.value_type == "text":
        return f"v if type(v) is str else {typed}(v)"
    if f.value_type == "bool":
        return f"v if type(v) is bool else {typed}(v)"
    return f"{typed}(v)"


def _compile(keys: tuple[Any, ...]) -> Callable[[dict[Any, Any]], dict[str, Any]]:
    """The function that flattens a row with exactly these keys, in this order."""
    by_lower: dict[str, Any] = {}
    for key in keys:
        by_lower[str(key).lower()] = key                 # the last spelling wins, as in flatten_event
    names: dict[str, Any] = {}                           # constants the generated code refers to

    def const(value: Any) -> str:
        name = f"k{len(names)}"
        names[name] = value
        return name

    lines = ["def flatten(row):", "    ev = {}"]
    if "__time__" in by_lower:
        lines += [f"    v = row[{const(by_lower['__time__'])}]",
                  "    if v is not None and v != '':", "        ev['__time__'] = int(float(v))"]
    containers = {c.lower(): by_lower.get(c.lower()) for c in JSON_CONTAINERS}
    decoded: set[str] = set()
    nodes: dict[tuple[str, ...], str] = {}               # a resolved path -> its variable

    def node(container: str, path: tuple[str, ...]) -> str:
        """The variable holding the node at `path` in `container` (_MISSING when absent)."""
        nonlocal lines
        if (container, *path) in nodes:
            return nodes[(container, *path)]
        if not path:
            var = f"c_{len(nodes)}"
            lines.append(f"    {var} = _decode(row[{const(containers[container])}])")
        else:
            parent = node(container, path[:-1])
            var = f"n_{len(nodes)}"
            key = path[-1]
            lines += [f"    if isinstance({parent}, dict):",
                      f"        {var} = {parent}.get({key!r}, _MISSING)",
                      f"        if {var} is _MISSING and {parent}:",
                      f"            {var} = _scan({parent}, {key.lower()!r})",
                      "    else:", f"        {var} = _MISSING"]
        nodes[(container, *path)] = var
        return var

    for f in FIELDS:
        lowered = f.name.lower()
        typed = _TYPED[f.value_type]
        if lowered in by_lower:                          # a flat column (SQL result) wins
            lines += [f"    v = row[{const(by_lower[lowered])}]", f"    ev[{f.name!r}] = {_typed_expr(f, typed)}"]
            continue
        container = f.container.lower() if f.container else None
        if container is None or containers[container] is None:
            continue
        decoded.add(container)
        var = node(container, f.path)
        lines += [f"    if {var} is not _MISSING:", f"        v = {var}", f"        ev[{f.name!r}] = {_typed_expr(f, typed)}"]
    lines.append("    return ev")
    scope = {"_MISSING": _MISSING, "_decode": _decode, "_scan": _scan,
             **{_TYPED[kind]: convert for kind, convert in TYPED_VALUE.items()}, **names}
    exec(compile("\n".join(lines), "<ackaudit field plan>", "exec"), scope)  # noqa: S102 - our own code
    return scope["flatten"]


class Redaction:
    """`redact_event` for a stream of events. Command lines repeat a great deal (health checks, CI
    steps, the same shell opened in every session) and redaction is the costliest step of an export,
    so each distinct set of command values is redacted once."""

    _CACHE = 20_000

    def __init__(self) -> None:
        from ackaudit.audit.redact import redact_event

        probe = "mysql -psecret"
        # The fields redaction rewrites; every other field of a flat event it leaves as it is.
        self._keys = tuple(n for n in FIELD_NAMES if redact_event({n: probe})[n] != probe)
        self._redact_event = redact_event
        self._redacted: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        """`event` redacted in place (the caller owns it): what `redact_event` would return."""
        values = tuple(map(event.get, self._keys))
        if not any(values):
            return event
        key = tuple(tuple(v) if type(v) is list else v for v in values) if list in map(type, values) else values
        try:
            replaced = self._redacted.get(key)
        except TypeError:                # a value holding objects: not cached
            replaced = self._redact(values)
        if replaced is None:
            if len(self._redacted) >= self._CACHE:
                self._redacted.clear()
            replaced = self._redacted[key] = self._redact(values)
        event.update(replaced)
        return event

    def _redact(self, values: tuple[Any, ...]) -> dict[str, Any]:
        return self._redact_event({k: v for k, v in zip(self._keys, values, strict=True) if v})


# -- a batch of rows: events --------------------------------------------------------------------------

class EventMaker:
    """Raw rows to finished events (flat, full time, risk-marked, redacted unless told), a batch at a
    time. Plans, risk marks and redactions are cached across batches."""

    _RISK_CACHE = 50_000

    def __init__(self, *, redact: bool, catalogue: dict[str, Any]) -> None:
        self._plans: dict[tuple[Any, ...], Callable[[dict[Any, Any]], dict[str, Any]]] = {}
        self._redact = Redaction() if redact else None
        self._catalogue = catalogue
        self._risks: dict[Any, dict[str, str] | None] = {}

    def events(self, rows: Sequence[dict[Any, Any]]) -> list[dict[str, Any]]:
        from ackaudit.services.investigate import full_time

        plans, risk, redact, canonical = self._plans, self._risk, self._redact, _CANONICAL_TIME.fullmatch
        out = []
        for row in rows:
            keys = tuple(row)
            plan = plans.get(keys)
            if plan is None:
                plan = plans[keys] = _compile(keys)
            event = plan(row)
            stamp = event.get("time")
            if type(stamp) is not str or not canonical(stamp):
                event = full_time(event)
            marked = risk(event)
            if redact is not None:
                event = redact(event)
            event["risk"] = marked
            out.append(event)
        return out

    def _risk(self, event: dict[str, Any]) -> dict[str, str] | None:
        """`asdict(risk_of(event))`, cached by the values risk_of reads."""
        if event.get("kind") == KIND_COMMAND:
            key: Any = ("command", event.get("process.name"), event.get("process.cmdline"))
            if not all(v is None or type(v) is str for v in key[1:]):
                return self._risk_now(event)
        elif event.get("kubeObject.operation.kind") == OPERATION_POD_EXEC:
            command = event.get("kubeObject.operation.podExecOptions.command")
            text = event.get("kubeObject.operation.podExecOptions.commandStr")
            if type(command) is list and all(type(word) is str for word in command):
                command = tuple(command)
            elif not (command is None or type(command) is str) or not (text is None or type(text) is str):
                return self._risk_now(event)
            key = ("exec", type(command).__name__, command, text)
        else:
            return None                   # risk_of marks only commands and execs
        try:
            return self._risks[key]
        except KeyError:
            pass
        if len(self._risks) >= self._RISK_CACHE:
            self._risks.clear()
        marked = self._risks[key] = self._risk_now(event)
        return marked

    def _risk_now(self, event: dict[str, Any]) -> dict[str, str] | None:
        from ackaudit.audit.risky import risk_of

        risk = risk_of(event, self._catalogue)
        return asdict(risk) if risk else None


# -- events to text -------------------------------------------------------------------------------

def jsonl_text(events: Sequence[dict[str, Any]]) -> str:
    """The JSON lines of `events`, exactly as `json.dumps(event, ensure_ascii=False, separators=...)`."""
    if not events:
        return ""
    if _ENCODE_CHUNKS is None:
        encode = _ENCODER.encode
        return "\n".join([encode(event) for event in events]) + "\n"
    chunks, join = _ENCODE_CHUNKS, "".join
    return "\n".join([join(chunks(event, 0)) for event in events]) + "\n"


def _json_cell(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"))`, with the shared encoder."""
    if _ENCODE_CHUNKS is None:
        return _ENCODER.encode(value)
    return "".join(_ENCODE_CHUNKS(value, 0))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _cell(key: str) -> Callable[[Any], str]:
    """The csv cell of one column's value: the rules of the per-row export, with the common case first."""
    if key == "risk":                    # as `query -o csv` shows it: the program's name
        def risk(value: Any) -> str:
            if value is None:
                return ""
            return csv_cell(value.get("name", "") if isinstance(value, dict) else str(value))
        return risk

    def cell(value: Any) -> str:
        if type(value) is str:
            return "'" + value if value.startswith(_FORMULA_START) else value
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            return csv_cell(_json_cell(value))
        if isinstance(value, bool):
            return "true" if value else "false"
        return csv_cell(str(value))
    return cell


class CsvLines:
    """The csv rows of events, with `columns` in that order; `header()` is the first line."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._row = self._compile(self.columns)

    @staticmethod
    def _compile(columns: Sequence[str]) -> Callable[[dict[str, Any]], list[str]]:
        """One event's cells: text cells inline (the common case), every other value through `_cell`."""
        scope: dict[str, Any] = {"_FORMULA_START": _FORMULA_START}
        lines = ["def row(event):", "    get = event.get"]
        cells = []
        for index, key in enumerate(columns):
            scope[f"cell{index}"] = _cell(key)
            lines.append(f"    v{index} = get({key!r})")
            if key == "risk":
                cells.append(f"cell{index}(v{index})")
            else:
                cells.append(f"((\"'\" + v{index} if v{index}.startswith(_FORMULA_START) else v{index}) "
                             f"if type(v{index}) is str else '' if v{index} is None else cell{index}(v{index}))")
        lines.append(f"    return [{', '.join(cells)}]")
        exec(compile("\n".join(lines), "<ackaudit csv row>", "exec"), scope)  # noqa: S102 - our own code
        return scope["row"]

    def header(self) -> str:
        return self.text([], header=True)

    def text(self, events: Sequence[dict[str, Any]], *, header: bool = False) -> str:
        """The rows as `csv_line` writes them. A row none of whose cells holds a comma, a quote or a
        line break needs no quoting (the only cells `csv_line` quotes): its cells are joined."""
        buffer = io.StringIO()
        row, commas, special, write = self._row, len(self.columns) - 1, _NEEDS_QUOTES.search, buffer.write
        if header:
            write(csv_line(self.columns))
        for event in events:
            cells = row(event)
            line = ",".join(cells)
            if commas > 0 and line.count(",") == commas and not special(line):
                write(line)
                write("\n")
            else:
                write(csv_line(cells))
        return buffer.getvalue()


_NEEDS_QUOTES = re.compile(r'["\r\n]')
