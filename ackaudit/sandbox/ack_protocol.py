"""How the emulated ACK API (ROA, 2015-12-15) answers: request ids, error envelopes, parameters."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.state import SandboxState

API_VERSION = "2015-12-15"
_CHINA = timezone(timedelta(hours=8))   # ACK writes its timestamps in China Standard Time


class AckError(Exception):
    """A business error, answered in ACK's error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


def ok(body: Any, request_id: str) -> Response:
    return Response.json(body, headers={"x-acs-request-id": request_id})


def error_response(err: AckError, request_id: str) -> Response:
    # The choice made for cloud-apis §9 item 1: ACK business errors use the lower-case envelope.
    # The core SDK reads only `Code`/`Message`/`RequestId`, so clients see SDK.UnknownServerError
    # and must read the code from the body quoted in the error message.
    body = {"code": err.code, "message": err.message, "requestId": request_id, "status": err.status}
    return Response.json(body, status=err.status, headers={"x-acs-request-id": request_id})


def find_cluster(state: SandboxState, cluster_id: str) -> dict[str, Any]:
    cluster = state.clusters.get(cluster_id)
    if cluster is None:
        raise AckError(404, "ErrorClusterNotFound", f"cluster {cluster_id} not found")
    return cluster


def bool_param(req: Request, name: str) -> bool | None:
    """A boolean query parameter; only `true`/`false`, as the service rejects Python's `True`."""
    raw = req.q(name)
    if raw is None or raw == "":
        return None
    if raw not in ("true", "false"):
        raise AckError(400, "InvalidParameter", f"{name} must be true or false, got {raw!r}")
    return raw == "true"


def int_param(req: Request, name: str, default: int, low: int, high: int, *names: str) -> int:
    """An integer query parameter within [low, high]; `names` are accepted spellings besides `name`."""
    raw = next((v for v in (req.q(n) for n in (name, *names)) if v not in (None, "")), None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AckError(400, "InvalidParameter", f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise AckError(400, "InvalidParameter", f"{name} must be between {low} and {high}, got {value}")
    return value


def json_array_body(req: Request) -> list[Any]:
    """The JSON array body the addon APIs take, checked as the service checks it."""
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise AckError(400, "InvalidParameter",
                       f"Content-Type must be application/json, got {ctype or 'none'!r}")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AckError(400, "InvalidParameter", "request body is not valid JSON") from None
    if not isinstance(body, list) or not body or not all(isinstance(x, dict) for x in body):
        raise AckError(400, "InvalidParameter", "request body must be a non-empty JSON array of objects")
    return body


def iso_time(epoch: float) -> str:
    """ACK's resource timestamp: '2026-01-21T10:00:00+08:00'."""
    return datetime.fromtimestamp(epoch, _CHINA).isoformat(timespec="seconds")


def stage_time(epoch: float) -> str:
    """ACK's task-stage timestamp: '2026-01-21 10:00:00'."""
    return datetime.fromtimestamp(epoch, _CHINA).strftime("%Y-%m-%d %H:%M:%S")
