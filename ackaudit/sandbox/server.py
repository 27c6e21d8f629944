"""One HTTP server for the whole emulated cloud: ACK (ROA), SLS, per-cluster Kubernetes APIs.

Clients reach it either directly (endpoints pointed at `http://127.0.0.1:PORT`) or as an HTTP
proxy (`HTTP_PROXY=http://127.0.0.1:PORT` with the real endpoint names): absolute-form request
lines are reduced to a path plus Host, and the service is told apart by headers and Host.

Requests to ACK and SLS are authenticated centrally (see signatures.py) before dispatch; admin
routes under `/_sandbox/` need no authentication but answer loopback clients only.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import importlib.util
import ipaddress
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ackaudit.engine.errors import StoreBusy
from ackaudit.sandbox import signatures, webhooks
from ackaudit.sandbox.faults import Fault, FaultRegistry
from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.state import (
    DEFAULT_REGION,
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_ACCESS_KEY_SECRET,
    SandboxState,
)

log = logging.getLogger("ackaudit.sandbox")

_ACK_HOST = re.compile(r"^cs(\.[a-z0-9-]+)?\.aliyuncs\.com$")
_SLS_HOST_SUFFIX = ".log.aliyuncs.com"
_IP_HOST = re.compile(r"^(?:(?P<project>.+)\.)?(?:\d{1,3}\.){3}\d{1,3}$")
_LOCAL_HOST = re.compile(r"^(?:(?P<project>.+)\.)?localhost$")
JOURNAL_SIZE = 500


def sls_project_and_region(host: str) -> tuple[str | None, str]:
    """The project an SLS request addresses, taken from its Host, and the endpoint's region."""
    if host.endswith(_SLS_HOST_SUFFIX):
        labels = host[:-len(_SLS_HOST_SUFFIX)]
        project, _, endpoint = labels.rpartition(".")
        region = endpoint.removesuffix("-intranet") or DEFAULT_REGION
        return project or None, region
    for pattern in (_IP_HOST, _LOCAL_HOST):
        match = pattern.match(host)
        if match:
            return match["project"], DEFAULT_REGION
    return None, DEFAULT_REGION


def classify(req: Request) -> str | None:
    """Which emulated service a request is for: admin, kube, ack, sls, webhook (chat robots; None:
    none of them)."""
    if req.path.startswith("/_sandbox/"):
        return "admin"
    if req.path.startswith("/kube/"):
        return "kube"
    auth = req.headers.get("authorization", "")
    if auth.startswith(("LOG ", "SLS4-HMAC-SHA256 ")) or "x-log-apiversion" in req.headers:
        return "sls"
    if auth.startswith("acs ") or "x-acs-version" in req.headers or _ACK_HOST.match(req.host):
        return "ack"
    if webhooks.serves(req.path):
        return "webhook"
    if req.host.endswith(_SLS_HOST_SUFFIX):
        return "sls"
    return None


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def ack_error(status: int, code: str, message: str, request_id: str) -> Response:
    """The POP gateway's envelope, which aliyun-python-sdk-core parses (capitalised keys)."""
    return Response.json({"Code": code, "Message": message, "RequestId": request_id,
                          "HostId": "cs.aliyuncs.com"}, status)


def sls_error(status: int, code: str, message: str) -> Response:
    return Response.json({"errorCode": code, "errorMessage": message}, status)


def kube_error(status: int, reason: str, message: str) -> Response:
    return Response.json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": status}, status)


def _fault_response(fault: Fault, service: str, req: Request, request_id: str) -> Response | None:
    """The error a `5xx`, `throttle` or `deny` fault answers with (None for the other kinds)."""
    if fault.kind == "deny":
        if service == "ack":
            return ack_error(fault.status or 403, "Forbidden.RAM",
                             "User not authorized to operate on the specified resource, or this API does not "
                             "support RAM.", request_id)
        if service == "sls":
            return sls_error(fault.status or 401, "Unauthorized",
                             "denied by sts or ram: the policy does not allow this action on this resource")
        return kube_error(fault.status or 403, "Forbidden", "the identity cannot do this (RBAC)")
    if fault.kind == "5xx":
        status = fault.status or 500
        if service == "ack":
            return ack_error(status, "InternalError" if status != 503 else "ServiceUnavailable",
                             "The request processing has failed due to some unknown error.", request_id)
        if service == "sls":
            return sls_error(status, "InternalServerError" if status != 503 else "ServerBusy",
                             "internal server error, please retry later")
        return kube_error(status, "InternalError", "an error on the server has prevented the request")
    if fault.kind == "throttle":
        if service == "ack":
            return ack_error(fault.status or 400, "Throttling.User", "Request was denied due to user flow control.",
                             request_id)
        if service == "sls":
            # Project read/write QPS quotas answer 403 (SLS "Handle resource throttling errors").
            if "/shards/" in req.path and req.method == "POST":
                return sls_error(fault.status or 403, "WriteQuotaExceed", "Project write quota exceed: qps: 600000")
            return sls_error(fault.status or 403, "ReadQuotaExceed", "Project read quota exceed: qps: 600000")
        return kube_error(fault.status or 429, "TooManyRequests", "the server has received too many requests")
    return None


_KUBE_KINDS = {"nodes": "Node", "pods": "Pod", "daemonsets": "DaemonSet", "configmaps": "ConfigMap",
               "namespaces": "Namespace", "deployments": "Deployment", "services": "Service",
               "replicasets": "ReplicaSet", "secrets": "Secret", "events": "Event"}
_KUBE_VERBS = {"GET": "Read", "POST": "Create", "PUT": "Replace", "PATCH": "Patch", "DELETE": "Delete"}


def kube_action(req: Request) -> str | None:
    """A Kubernetes request's action in the client's words: ListNodes, ReadConfigMap, ListPods..."""
    segments = [s for s in req.path.split("/") if s]
    if len(segments) < 2 or segments[0] != "kube":
        return None
    segments = segments[2:]                      # drop /kube/<cluster id>
    for i in range(len(segments) - 1, -1, -1):
        kind = _KUBE_KINDS.get(segments[i])
        if kind is None:
            continue
        if i == len(segments) - 1:               # the collection itself
            return ("List" if req.method == "GET" else _KUBE_VERBS.get(req.method, "")) + kind + "s"
        return _KUBE_VERBS.get(req.method, req.method.title()) + kind + ("" if i == len(segments) - 2 else
                                                                         segments[-1].title())
    return None


def _route_module(name: str):
    """A route module written separately (ack, kube, world): None until it exists."""
    full = f"ackaudit.sandbox.{name}"
    if importlib.util.find_spec(full) is None:
        return None
    return importlib.import_module(full)


class _Httpd(ThreadingHTTPServer):
    """Counts the requests in flight, so that stopping can wait for them before the world closes
    (a request still running against a closed world would fail with a traceback), and is quiet
    about requests that fail because the client went away while it stops (Ctrl-C).

    Requests are counted while they are handled, not while their connection stays open: a client
    keeping an idle connection alive (the SDKs do) must not hold stopping up."""

    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.stopping = False
        self._idle = threading.Condition()
        self._active = 0

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away first (a timeout under a `slow` fault, Ctrl-C while stopping) is
        not the sandbox's error."""
        import sys

        if self.stopping or isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the sandbox listens on loopback addresses only, not {host}")
        self.state = state
        self.faults = FaultRegistry()
        self.journal: collections.deque[dict[str, Any]] = collections.deque(maxlen=JOURNAL_SIZE)
        self._journal_lock = threading.Lock()
        handler = type("BoundHandler", (_Handler,), {"sandbox": self})
        self._httpd = _Httpd((host, port), handler)
        self._thread: threading.Thread | None = None
        self._alerts: Any = None
        state.server_url = self.url

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """The settings that point ackaudit (and the SDKs' users) at this sandbox."""
        return {"ACKAUDIT_CS_ENDPOINT": self.url, "ACKAUDIT_SLS_ENDPOINT": self.url,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY_ID,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SANDBOX_ACCESS_KEY_SECRET,
                "ALIBABA_CLOUD_REGION_ID": DEFAULT_REGION}

    def start(self) -> SandboxServer:
        # A short poll interval keeps stop() quick (shutdown waits for the loop to notice).
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="ackaudit-sandbox", daemon=True)
        self._thread.start()
        from ackaudit.sandbox.alert_engine import Scheduler

        self._alerts = Scheduler(self.state).start()
        return self

    def serve_forever(self) -> None:
        from ackaudit.sandbox.alert_engine import Scheduler

        self._alerts = Scheduler(self.state).start()
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        self._httpd.stopping = True
        if self._alerts is not None:
            self._alerts.stop()
            self._alerts = None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.wait_idle(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def record(self, entry: dict[str, Any]) -> None:
        with self._journal_lock:
            self.journal.append(entry)

    def recent_requests(self) -> list[dict[str, Any]]:
        with self._journal_lock:
            return list(self.journal)

    # -- dispatch ---------------------------------------------------------------------------------

    def dispatch(self, req: Request, client_ip: str) -> Response | None:
        """The response to `req`, or None to drop the connection without one."""
        service = classify(req)
        if service == "admin":
            return self._admin(req, client_ip)
        if service == "webhook":
            resp = webhooks.handle(self.state, req)
            self.record({"time": time.time(), "method": req.method, "service": service, "path": req.path,
                         "project": None, "status": resp.status, "action": None})
            return resp
        if service is None:
            return Response.json({"message": f"the sandbox serves no API at {req.host}{req.path}"}, 404)
        request_id = _request_id()
        project, region = sls_project_and_region(req.host) if service == "sls" else (None, DEFAULT_REGION)
        entry = {"time": time.time(), "method": req.method, "service": service, "path": req.path,
                 "project": project, "status": None, "action": self._action(service, req, project)}
        try:
            resp = self._serve(service, req, project, region, request_id, entry["action"])
        except StoreBusy as busy:
            message = f"the sandbox world's events are in use: {busy}; retry when it is done"
            resp = {"ack": lambda: ack_error(503, "ServiceUnavailable", message, request_id),
                    "sls": lambda: sls_error(503, "ServerBusy", message),
                    "kube": lambda: kube_error(503, "ServiceUnavailable", message)}[service]()
        except Exception:
            log.exception("sandbox %s route failed: %s %s", service, req.method, req.path)
            resp = {"ack": lambda: ack_error(500, "InternalError", "The request processing has failed.",
                                             request_id),
                    "sls": lambda: sls_error(500, "InternalServerError", "internal server error"),
                    "kube": lambda: kube_error(500, "InternalError", "internal error")}[service]()
        entry["status"] = resp.status if resp is not None else None
        self.record(entry)
        if resp is not None and service == "ack":
            resp.headers.setdefault("x-acs-request-id", request_id)
        elif resp is not None and service == "sls":
            resp.headers.setdefault("x-log-requestid", request_id.replace("-", "")[:24])
        return resp

    @staticmethod
    def _action(service: str, req: Request, project: str | None) -> str | None:
        if service == "ack":
            return req.headers.get("x-acs-action")
        if service == "sls":
            from ackaudit.sandbox import sls

            return sls.action_of(req, project)
        return kube_action(req)

    def _serve(self, service: str, req: Request, project: str | None, region: str,
               request_id: str, action: str | None = None) -> Response | None:
        state = self.state
        if service == "kube":
            fault = self.faults.take("kube", req.method, req.path, action)
            early = self._apply_fault(fault, service, req, request_id)
            if early is not False:
                return early
            return self._kube(req)
        check = signatures.verify_acs_roa if service == "ack" else signatures.verify_sls
        failure = check(req, state.credentials)
        if failure is not None:
            if service == "ack":
                return ack_error(failure.status, failure.code, failure.message, request_id)
            return sls_error(failure.status, failure.code, failure.message)
        fault = self.faults.take(service, req.method, req.path, action)
        early = self._apply_fault(fault, service, req, request_id)
        if early is not False:
            return early
        ack = _route_module("ack")
        if ack is not None:
            with state.lock:
                if ack.advance(state):
                    state.save()
        if service == "ack":
            if ack is None:
                return ack_error(501, "NotImplemented", "the sandbox has no ACK API yet", request_id)
            resp = ack.handle(state, req)
            changed = req.method != "GET"
        else:
            from ackaudit.sandbox import sls

            resp = sls.handle(state, req, project, region=region,
                              incomplete=fault is not None and fault.kind == "incomplete")
            changed = sls.changes_world(req, project)
        if changed and resp.status < 400:
            state.save()
        return resp

    def _apply_fault(self, fault: Fault | None, service: str, req: Request,
                     request_id: str) -> Response | None | bool:
        """A fault's effect before dispatch: a response, None (drop), or False (carry on)."""
        if fault is None:
            return False
        if fault.kind == "drop":
            return None
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        return _fault_response(fault, service, req, request_id) or False

    def _kube(self, req: Request) -> Response:
        kube = _route_module("kube")
        _, _, rest = req.path.partition("/kube/")
        cluster_id, slash, subpath = rest.partition("/")
        if kube is None:
            return kube_error(501, "NotImplemented", "the sandbox has no Kubernetes API yet")
        return kube.handle(self.state, cluster_id, slash + subpath, req)

    # -- admin ------------------------------------------------------------------------------------

    def _admin(self, req: Request, client_ip: str) -> Response:
        if not ipaddress.ip_address(client_ip).is_loopback:
            return Response.json({"message": "admin routes answer loopback clients only"}, 403)
        route = (req.method, req.path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/health"):
                return Response.json({"status": "ok", "url": self.url, "clusters": len(self.state.clusters),
                                      "projects": len(self.state.projects)})
            if route == ("GET", "/_sandbox/faults"):
                return Response.json({"faults": self.faults.list()})
            if route == ("POST", "/_sandbox/faults"):
                body = req.json()
                for fault in body if isinstance(body, list) else [body]:
                    self.faults.add(fault)
                return Response.json({"faults": self.faults.list()})
            if route == ("DELETE", "/_sandbox/faults"):
                self.faults.clear()
                return Response.json({"faults": []})
            if route == ("GET", "/_sandbox/requests"):
                return Response.json({"requests": self.recent_requests()})
            if route == ("PUT", "/_sandbox/settings"):
                return self._put_settings(req.json())
            if route == ("POST", "/_sandbox/alerts/evaluate"):
                from ackaudit.sandbox import alert_engine

                body = req.json() or {}
                if not isinstance(body, dict):
                    raise ValueError("a JSON object: {project?, name?}")
                return Response.json({"evaluations": alert_engine.evaluate_now(
                    self.state, body.get("project"), body.get("name"))})
            if route == ("GET", "/_sandbox/alerts/notifications"):
                with self.state.lock:
                    return Response.json({"notifications": list(self.state.alert_notifications)})
            if req.path.startswith("/_sandbox/webhooks"):
                resp = webhooks.admin(self.state, req)
                if resp is not None:
                    return resp
        except (ValueError, TypeError, AttributeError) as e:
            return Response.json({"message": str(e)}, 400)
        return Response.json({"message": f"no admin route {req.method} {req.path}"}, 404)

    def _put_settings(self, body: Any) -> Response:
        if not isinstance(body, dict):
            raise ValueError("settings must be a JSON object")
        with self.state.lock:
            unknown = set(body) - set(self.state.settings)
            if unknown:
                raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
            self.state.settings.update(body)
            self.state.save()
            return Response.json({"settings": self.state.settings})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ackaudit-sandbox"
    # Headers and body leave in separate writes; without TCP_NODELAY the body of a small response
    # waits for the client's delayed ACK (about 40 ms per request on a reused connection).
    disable_nagle_algorithm = True
    sandbox: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are kept in the journal (GET /_sandbox/requests), not printed."""

    def _handle(self) -> None:
        with self.server.in_flight():
            self._answer()

    def _answer(self) -> None:
        req = self._read_request()
        resp = self.sandbox.dispatch(req, self.client_address[0])
        if resp is None:                     # a `drop` fault: close without answering
            self.close_connection = True
            return
        if resp.upgrade is not None:         # the upgrade owns the connection from here on
            self.close_connection = True
            resp.upgrade(self.rfile, self.wfile)
            return
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            # Header values travel as raw UTF-8 bytes, which http.server writes as latin-1.
            self.send_header(name, value.encode("utf-8").decode("latin-1"))
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _read_request(self) -> Request:
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        # Absolute-form targets (proxy mode) carry the host; otherwise the Host header does.
        host = target.hostname or headers.get("host", "").rsplit(":", 1)[0]
        return Request(method=self.command, path=target.path or "/",
                       query=parse_qsl(target.query, keep_blank_values=True), headers=headers, body=body,
                       host=host.lower())
