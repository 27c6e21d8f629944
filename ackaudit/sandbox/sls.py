"""The emulated SLS data plane: one route table over projects, logstores, logs, alerts and resources.

The server has already verified the signature; this module checks what SLS checks next (API
version, compression, content types, the project in the Host) and dispatches to the resource
modules, answering errors in the SLS envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from ackaudit.sandbox import sls_alerting as alerting
from ackaudit.sandbox import sls_logs as logs
from ackaudit.sandbox import sls_stores as stores
from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.sls_base import Call, SlsError
from ackaudit.sandbox.state import SandboxState

API_VERSION = "0.6.0"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    action: str
    handler: Callable[[Call], Response]
    query_type: str | None = None    # the `type` parameter some GET routes dispatch on
    project: bool = True             # True: project APIs (Host prefix); False: account-level APIs
    content: str | None = None       # body type: "json", "protobuf", or "json?" (JSON, Content-Type optional)


def _r(method: str, path: str, action: str, handler, **kw) -> Route:
    # Placeholders match one path segment; a shard id is a number.
    regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{'[0-9]+' if m[1] == 'shard' else '[^/]+'})", path)
    return Route(method, re.compile(f"^{regex}$"), action, handler, **kw)


_LS = "/logstores/{logstore}"
ROUTES = [
    _r("GET", "/", "ListProject", stores.list_projects, project=False),
    _r("POST", "/", "CreateProject", stores.create_project, content="json"),
    _r("GET", "/", "GetProject", stores.get_project),
    _r("PUT", "/", "UpdateProject", stores.update_project, content="json"),
    _r("DELETE", "/", "DeleteProject", stores.delete_project),
    _r("POST", "/logstores", "CreateLogStore", stores.create_logstore, content="json"),
    _r("GET", "/logstores", "ListLogStores", stores.list_logstores),
    _r("GET", _LS, "GetLogs", logs.get_logs_v1, query_type="log"),
    _r("GET", _LS, "GetHistograms", logs.get_histograms, query_type="histogram"),
    _r("GET", _LS, "GetLogStore", stores.get_logstore),
    _r("PUT", _LS, "UpdateLogStore", stores.update_logstore, content="json"),
    _r("DELETE", _LS, "DeleteLogStore", stores.delete_logstore),
    _r("POST", _LS + "/index", "CreateIndex", stores.create_index, content="json"),
    _r("PUT", _LS + "/index", "UpdateIndex", stores.update_index, content="json"),
    _r("GET", _LS + "/index", "GetIndex", stores.get_index),
    _r("DELETE", _LS + "/index", "DeleteIndex", stores.delete_index),
    _r("POST", _LS + "/logs", "GetLogsV2", logs.get_logs_v2, content="json"),
    _r("GET", _LS + "/shards", "ListShards", stores.list_shards),
    _r("POST", _LS + "/shards/lb", "PutLogs", logs.put_logs, content="protobuf"),
    _r("POST", _LS + "/shards/route", "PutLogs", logs.put_logs, content="protobuf"),
    _r("GET", _LS + "/shards/{shard}", "GetCursor", logs.get_cursor, query_type="cursor"),
    _r("GET", _LS + "/shards/{shard}", "PullLogs", logs.pull_logs, query_type="log"),
    _r("POST", "/jobs", "CreateAlert", alerting.create_job, content="json"),
    _r("GET", "/jobs", "ListAlerts", alerting.list_jobs),
    _r("GET", "/jobs/{name}", "GetAlert", alerting.get_job),
    _r("PUT", "/jobs/{name}", "UpdateAlert", alerting.update_job, content="json"),
    _r("DELETE", "/jobs/{name}", "DeleteAlert", alerting.delete_job),
    _r("POST", "/dashboards", "CreateDashboard", alerting.create_dashboard, content="json"),
    _r("GET", "/dashboards", "ListDashboard", alerting.list_dashboards),
    _r("GET", "/dashboards/{name}", "GetDashboard", alerting.get_dashboard),
    _r("PUT", "/dashboards/{name}", "UpdateDashboard", alerting.update_dashboard, content="json"),
    _r("DELETE", "/dashboards/{name}", "DeleteDashboard", alerting.delete_dashboard),
    # Account-level resources: the SDK sends their JSON bodies without a Content-Type, and the
    # service accepts that.
    _r("POST", "/resources", "CreateResource", alerting.create_resource, project=False, content="json?"),
    _r("GET", "/resources", "ListResources", alerting.list_resources, project=False),
    _r("GET", "/resources/{resource}", "GetResource", alerting.get_resource, project=False),
    _r("PUT", "/resources/{resource}", "UpdateResource", alerting.update_resource, project=False,
       content="json?"),
    _r("DELETE", "/resources/{resource}", "DeleteResource", alerting.delete_resource, project=False),
    _r("POST", "/resources/{resource}/records", "CreateResourceRecord", alerting.create_record,
       project=False, content="json?"),
    _r("PUT", "/resources/{resource}/records", "UpsertResourceRecord", alerting.upsert_records,
       project=False, content="json?"),
    _r("GET", "/resources/{resource}/records", "ListResourceRecords", alerting.list_records, project=False),
    _r("DELETE", "/resources/{resource}/records", "DeleteResourceRecord", alerting.delete_records,
       project=False),
    _r("GET", "/resources/{resource}/records/{record}", "GetResourceRecord", alerting.get_record,
       project=False),
    _r("PUT", "/resources/{resource}/records/{record}", "UpdateResourceRecord", alerting.update_record,
       project=False, content="json?"),
]
# Writes that leave the saved world alone (events live in the query engine's own file).
_WORLD_UNCHANGED = {"GetLogsV2", "PutLogs"}
# Query routes an `incomplete` fault applies to.
QUERY_ACTIONS = {"GetLogsV2", "GetLogs", "GetHistograms"}


def resolve(req: Request, project: str | None) -> tuple[Route, dict[str, str]] | None:
    path = unquote(req.path)
    kind = req.q("type")
    for route in ROUTES:
        if route.method != req.method or route.project != (project is not None):
            continue
        match = route.pattern.match(path)
        if match and route.query_type in (None, kind):
            return route, match.groupdict()
    return None


def action_of(req: Request, project: str | None) -> str | None:
    found = resolve(req, project)
    return found[0].action if found else None


def changes_world(req: Request, project: str | None) -> bool:
    """Whether a successful request of this kind must be followed by saving the world."""
    action = action_of(req, project)
    return req.method != "GET" and action is not None and action not in _WORLD_UNCHANGED


def error(status: int, code: str, message: str) -> Response:
    return Response(status, json.dumps({"errorCode": code, "errorMessage": message}).encode(),
                    {"Content-Type": "application/json"})


def _decoded_body(req: Request) -> bytes:
    compress = req.headers.get("x-log-compresstype", "")
    if not compress or not req.body:
        return req.body
    if compress != "lz4":
        raise SlsError(400, "InvalidCompressType", f"x-log-compresstype {compress} is unsupported")
    raw_size = req.headers.get("x-log-bodyrawsize")
    if raw_size is None:
        raise SlsError(400, "MissingBodyRawSize", "x-log-bodyrawsize does not exist in header when it is necessary")
    import lz4.block

    try:
        return lz4.block.decompress(req.body, uncompressed_size=int(raw_size))
    except (ValueError, lz4.block.LZ4BlockError):
        raise SlsError(400, "InvalidBodyRawSize", "x-log-bodyrawsize is invalid") from None


def _check_content_type(req: Request, content: str | None) -> None:
    if not req.body:
        return
    sent = req.headers.get("content-type", "").split(";")[0].strip()
    wanted = {"json": "application/json", "json?": "application/json", "protobuf": "application/x-protobuf"}
    if content is None:
        raise SlsError(400, "ParameterInvalid", "this API takes no request body")
    if not sent:
        if content == "json?":
            return
        raise SlsError(400, "MissingContentType", "Content-Type does not exist in http header when body is not empty")
    if sent != wanted[content]:
        raise SlsError(415, "InvalidContentType", f"Content-Type {sent} is unsupported")


def handle(state: SandboxState, req: Request, project: str | None, *, region: str,
           incomplete: bool = False) -> Response:
    try:
        version = req.headers.get("x-log-apiversion")
        if version is None:
            raise SlsError(400, "MissingAPIVersion", "x-log-apiversion does not exist in http header")
        if version != API_VERSION:
            raise SlsError(400, "InvalidAPIVersion", f"x-log-apiversion {version} is unsupported")
        found = resolve(req, project)
        if found is None:
            raise SlsError(404, "ParameterInvalid", f"the sandbox does not emulate {req.method} {req.path}"
                                                    f"{' for a project' if project else ' without a project'}")
        route, params = found
        _check_content_type(req, route.content)
        call = Call(state, req, project, params, _decoded_body(req),
                    incomplete=incomplete and route.action in QUERY_ACTIONS, region=region)
        with state.lock:
            return route.handler(call)
    except SlsError as e:
        return error(e.status, e.code, e.message)
