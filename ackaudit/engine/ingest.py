"""Turning PutLogs-style rows into staging NDJSON, and JSON fields into dotted leaf columns.

Python only serialises each row once (`json.dumps`); DuckDB's `read_json` turns numbers,
booleans and nested objects into their JSON text for VARCHAR columns, which is exactly how SLS
stores them. JSON-object values are then flattened inside DuckDB: `json_group_structure` finds
the leaf paths of a batch and one `json_extract_string(value, [paths])` per field extracts them
all with a single parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

SEQ = "__seq__"
KEYSET = "__keyset__"
TIME = "__time__"
# The latest __time__ SLS can hold: whole seconds of an unsigned 32-bit epoch (2106).
MAX_TIME = 2**32 - 1
RESERVED = frozenset({SEQ, KEYSET})
# Values SLS would not accept (dates, decimals...) are stored as their str().
_ENCODER = json.JSONEncoder(default=str)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """`value` with each lone surrogate (a JSON file may spell one, `"\\ud800"`; UTF-8 cannot hold
    it and DuckDB refuses the line) replaced by U+FFFD, the replacement character."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_surrogates(v) for v in value]
    return value


@dataclass
class KeysetRegistry:
    """Every distinct key list rows arrived with, by id: a search result returns a row with
    exactly its own keys (original spelling and order), though columns are shared."""
    ids: dict[tuple[str, ...], int] = field(default_factory=dict)
    keys: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def add(self, keys: tuple[str, ...]) -> tuple[int, bool]:
        """(id, whether it is new)."""
        existing = self.ids.get(keys)
        if existing is not None:
            return existing, False
        new_id = len(self.keys)
        self.ids[keys] = new_id
        self.keys[new_id] = keys
        return new_id, True


class DerivedKeysets(dict):
    """Keysets whose ids say their keys (a bit mask over a fixed key list, say): each is worked out
    the first time a row with it is read, so attaching a file needs no pass to list them first.
    `possible` holds every key some id may give."""

    def __init__(self, keys_of: Callable[[int], tuple[str, ...]], possible: Iterable[str]) -> None:
        super().__init__()
        self._keys_of = keys_of
        self.possible = tuple(possible)

    def __missing__(self, keyset_id: int) -> tuple[str, ...]:
        keys = self[keyset_id] = self._keys_of(keyset_id)
        return keys


@dataclass
class _Shape:
    keyset_id: int
    rename: dict[str, str] | None   # original key -> batch spelling, when the row must be rewritten


@dataclass
class StagedBatch:
    rows: int = 0
    spellings: dict[str, str] = field(default_factory=dict)   # column (lower case) -> key spelling in the file
    new_keysets: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)


class BatchWriter:
    """Writes one batch of rows as NDJSON lines, assigning arrival sequence numbers and keysets.

    Keys are case-insensitive: the first spelling of a name in a batch is the one written to the
    file, other spellings are rewritten to it (DuckDB matches JSON keys case-sensitively). Within
    one row, a key repeated in another case keeps its first value.
    """

    def __init__(self, registry: KeysetRegistry, first_seq: int) -> None:
        self.registry = registry
        self.seq = first_seq
        self.batch = StagedBatch()
        self._shapes: dict[tuple[str, ...], _Shape] = {}

    def write(self, rows: Iterable[Mapping[str, Any]], out: TextIO, limit: int) -> bool:
        """Write up to `limit` rows; False when `rows` is exhausted."""
        encode = _ENCODER.encode
        lines = []
        for row in rows:
            keys = tuple(row)
            shape = self._shapes.get(keys) or self._shape(keys)
            if shape.rename is not None:
                row = {shape.rename[k]: v for k, v in row.items() if k in shape.rename}
            text = encode(row)
            if "\\ud" in text:             # a surrogate escape: an emoji's pair, or a lone one
                text = encode(_without_surrogates(row))
            lines.append(f'{text[:-1]},"{KEYSET}":{shape.keyset_id},"{SEQ}":{self.seq}}}')
            self.seq += 1
            if len(lines) >= limit:
                break
        if lines:
            out.write("\n".join(lines))
            out.write("\n")
        self.batch.rows += len(lines)
        return len(lines) >= limit

    def _shape(self, keys: tuple[str, ...]) -> _Shape:
        if TIME not in keys:
            raise ValueError(f"a log row needs {TIME}; got keys {list(keys)}")
        kept: list[str] = []
        seen: set[str] = set()
        rewrite = False
        for key in keys:
            column = key.lower()
            if column in seen or column in RESERVED:
                rewrite = True
                continue
            seen.add(column)
            kept.append(key)
            spelling = self.batch.spellings.setdefault(column, key)
            rewrite = rewrite or spelling != key
        rename = {k: self.batch.spellings[k.lower()] for k in kept} if rewrite else None
        stored = tuple(k for k in kept if k != TIME)
        keyset_id, new = self.registry.add(stored)
        if new:
            self.batch.new_keysets.append((keyset_id, stored))
        shape = _Shape(keyset_id, rename)
        self._shapes[keys] = shape
        return shape


def leaf_paths(structure: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Leaf paths of a `json_group_structure` result: objects are walked, anything else
    (scalars, arrays, mixed types) is a leaf."""
    if not isinstance(structure, dict):
        return [prefix] if prefix else []
    out: list[tuple[str, ...]] = []
    for key, sub in structure.items():
        if not key or '"' in key or "\\" in key:
            continue            # not addressable as a JSON path; the field stays in the JSON text
        out.extend(leaf_paths(sub, (*prefix, key)))
    return out


def json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{key}"' for key in path)
