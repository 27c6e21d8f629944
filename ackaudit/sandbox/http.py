"""The sandbox's own request/response types, so route modules never touch http.server."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str                      # URL path only, not decoded (absolute-form proxy URLs already reduced)
    query: list[tuple[str, str]]   # parse_qsl(..., keep_blank_values=True), in arrival order
    headers: dict[str, str]        # lower-cased names
    body: bytes
    host: str                      # Host header without port

    def q(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Set for protocol upgrades (pod exec over WebSocket): called with the raw socket's
    # reader and writer after the handler has written nothing; it owns the connection.
    upgrade: Callable[[Any, Any], None] | None = None

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": "application/json", **(headers or {})})
