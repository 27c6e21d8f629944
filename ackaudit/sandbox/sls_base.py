"""What every emulated SLS route shares: the call context, the error type, and state lookups."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.state import SandboxState


class SlsError(Exception):
    """An error answered in the SLS envelope `{"errorCode", "errorMessage"}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Call:
    state: SandboxState
    req: Request
    project: str | None            # from the Host header; None for account-level APIs
    params: dict[str, str]         # named groups of the matched route
    body: bytes                    # the request body, decompressed when it was sent lz4-compressed
    incomplete: bool = False       # an `incomplete` fault: query routes answer partially
    region: str = ""               # the region named by the endpoint, or the sandbox default

    def json(self) -> Any:
        if not self.body:
            raise SlsError(400, "PostBodyInvalid", "request body is empty")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise SlsError(400, "PostBodyInvalid", f"request body is not valid json: {e}") from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise SlsError(400, "PostBodyInvalid", "request body must be a json object")
        return data

    def int_param(self, name: str, default: int | None = None, *, minimum: int = 0) -> int:
        raw = self.req.q(name)
        if raw is None or raw == "":
            if default is None:
                raise SlsError(400, "ParameterInvalid", f"parameter {name} is required")
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SlsError(400, "ParameterInvalid", f"parameter {name} must be an integer: {raw}") from None
        if value < minimum:
            raise SlsError(400, "ParameterInvalid", f"parameter {name} must be >= {minimum}: {raw}")
        return value


def ok(obj: Any = None, headers: dict[str, str] | None = None) -> Response:
    if obj is None:
        return Response(200, b"", dict(headers or {}))
    return Response.json(obj, headers=headers)


def now_s() -> int:
    return int(time.time())


def project_of(call: Call) -> dict[str, Any]:
    project = call.state.projects.get(call.project)
    if project is None:
        raise SlsError(404, "ProjectNotExist", f"The Project does not exist : {call.project}")
    return project


def logstore_of(call: Call, name: str | None = None) -> dict[str, Any]:
    name = name or call.params["logstore"]
    config = project_of(call).setdefault("logstores", {}).get(name)
    if config is None:
        raise SlsError(404, "LogStoreNotExist", f"logstore {name} does not exist")
    return config


def page(items: list, call: Call, default_size: int = 100) -> list:
    offset = call.int_param("offset", 0)
    size = call.int_param("size", default_size)
    return items[offset:offset + size]
