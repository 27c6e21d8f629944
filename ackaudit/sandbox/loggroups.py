"""PullLogs bodies: a LogGroupList protobuf written straight from stored rows.

The SDK's protobuf classes cost about 10 µs per row to fill and serialise, more than reading the
rows; the wire format is simple enough to write directly. Every row becomes one LogGroup holding one
Log, exactly as `LogGroupList.SerializeToString()` would write it (proto2: fields in number order,
Topic and Source always present):

    LogGroupList { repeated LogGroup LogGroups = 1; }
    LogGroup     { repeated Log Logs = 1; optional string Topic = 3; optional string Source = 4;
                   repeated LogTag LogTags = 6; }
    Log          { required uint32 Time = 1; repeated Content Contents = 2; }
    Content, LogTag { required string Key = 1; required string Value = 2; }

A row's `__topic__` and `__source__` go to its group, its `__tag__:KEY` keys to the group's tags,
every other key to a Content, in the row's own key order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_TAG_PREFIX = "__tag__:"
_SHARED = ("__time__", "__source__", "__topic__")


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [varint(n) for n in range(1 << 14)]     # every length up to 16 KiB, ready made


def _length(n: int) -> bytes:
    return _SMALL[n] if n < 16384 else varint(n)


class _Plan:
    """How one keyset's values (at their positions in a stored record) become protobuf fields."""

    __slots__ = ("contents", "source", "tags", "topic")

    def __init__(self, keys: Sequence[str], position: Mapping[str, int]) -> None:
        self.contents: list[tuple[int, bytes]] = []   # (record index, Key field + Value tag)
        self.tags: list[tuple[int, bytes]] = []
        self.topic: int | None = None
        self.source: int | None = None
        for key in keys:
            index = position[key.lower()]
            if key == "__topic__":
                self.topic = index
            elif key == "__source__":
                self.source = index
            elif key.startswith(_TAG_PREFIX):
                name = key[len(_TAG_PREFIX):].encode()
                self.tags.append((index, b"\x0a" + _length(len(name)) + name + b"\x12"))
            elif key not in _SHARED:
                name = key.encode()
                self.contents.append((index, b"\x0a" + _length(len(name)) + name + b"\x12"))


def encode_records(columns: Sequence[str], keysets: Mapping[int, Sequence[str]],
                   records: Sequence[tuple[Any, ...]]) -> bytes:
    """A serialised LogGroupList of `records`: `(seq, __time__, keyset id, *values of columns)`."""
    position = {column: index for index, column in enumerate(columns, start=3)}
    plans: dict[int, _Plan] = {}
    small = _SMALL
    out: list[bytes] = []
    for record in records:
        plan = plans.get(record[2])
        if plan is None:
            plan = plans[record[2]] = _Plan(keysets[record[2]], position)
        parts = [b"\x08", varint(record[1] & 0xFFFFFFFF)]
        for index, head in plan.contents:
            value = record[index]
            if value is None:
                continue
            data = value.encode()
            size = len(data)
            size_field = small[size] if size < 16384 else varint(size)
            inner = len(head) + len(size_field) + size
            parts += (b"\x12", small[inner] if inner < 16384 else varint(inner), head, size_field, data)
        log = b"".join(parts)
        topic = record[plan.topic] if plan.topic is not None else None
        source = record[plan.source] if plan.source is not None else None
        topic_data = topic.encode() if topic else b""
        source_data = source.encode() if source else b""
        group = [b"\x0a", _length(len(log)), log, b"\x1a", _length(len(topic_data)), topic_data,
                 b"\x22", _length(len(source_data)), source_data]
        for index, head in plan.tags:
            value = record[index]
            if value is None:
                continue
            data = value.encode()
            size_field = _length(len(data))
            group += (b"\x32", _length(len(head) + len(size_field) + len(data)), head, size_field, data)
        body = b"".join(group)
        out += (b"\x0a", _length(len(body)), body)
    return b"".join(out)
