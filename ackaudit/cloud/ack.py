"""ACK (Container Service, API 2015-12-15, ROA) through aliyun-python-sdk-core.

Every call is a CommonRequest with an explicit domain (a product-only request resolves to the global
`cs.aliyuncs.com`, reference cloud-apis §0.3) and an explicit protocol (the core SDK defaults to
plain HTTP, §0.4). Many of the APIs we need have no request class in aliyun-python-sdk-cs 4.8.1, so
all of them are built the same way here.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote

from ackaudit.cloud import calls
from ackaudit.cloud.credentials import CredentialSource
from ackaudit.cloud.endpoints import Endpoint
from ackaudit.errors import ApiError, ClusterNotFoundError, ConnectError

API_VERSION = "2015-12-15"
_CLUSTER_PATH = re.compile(r"/(?:api/v\d+/)?clusters/([^/?]+)")
SERVICE = "ACK"


class _ProviderSigner:
    """Signs each request with the provider's current credentials.

    The core SDK picks its signer once, in AcsClient's constructor, and there it lets the
    ALIYUN_ACCESS_KEY_ID/SECRET environment variables silently override a passed
    `credential=` (cloud-apis §6.1). We construct the client with placeholder keys (which the SDK
    honours before the environment) and sign with this instead, so the credentials are always
    the ones ackaudit resolved, and refreshing providers (RAM role, RRSA) stay fresh.
    """

    def __init__(self, source: CredentialSource) -> None:
        self._source = source

    def sign(self, region_id: str, request: Any) -> tuple[Any, str]:
        creds = self._source.provider().get_credentials()
        key_id, secret = creds.get_access_key_id(), creds.get_access_key_secret()
        token = creds.get_security_token()
        if token:
            request.add_header("x-acs-security-token", token)
        return request.get_signed_header(region_id, key_id, secret), request.get_url(region_id, key_id, secret)


def _error_fields(exc: Any) -> tuple[str, str, str | None]:
    """(code, message, request id) of a ServerException, including ACK's lower-case error bodies,
    which core 2.16.1 reports as SDK.UnknownServerError with the raw body in the message (§1.14)."""
    code, message, request_id = exc.get_error_code(), exc.get_error_msg(), exc.get_request_id()
    if code == "SDK.UnknownServerError" and "ServerResponseBody: " in message:
        raw = message.split("ServerResponseBody: ", 1)[1]
        try:
            body = json.loads(raw)
        except ValueError:
            return code, raw.strip()[:300], request_id
        if isinstance(body, dict):
            code = body.get("code") or body.get("Code") or code
            message = body.get("message") or body.get("Message") or raw
            request_id = body.get("requestId") or body.get("RequestId") or request_id
    return code, message, request_id


def _defer_key_pair_signing() -> None:
    """aliyunsdkcore.client imports its RSA key-pair signer, and with it `cryptography` (about 13 ms),
    whatever the credentials; ackaudit signs every request itself (_ProviderSigner). The signer's
    algorithm module is a stand-in until something uses it: then the real one is imported and
    answers."""
    import importlib
    import sys
    import types

    name = "aliyunsdkcore.auth.algorithm.sha_hmac256"
    if name in sys.modules:
        return
    stand_in = types.ModuleType(name, "loaded on first use (ackaudit.cloud.ack)")

    def real_module(attribute: str) -> Any:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)

    stand_in.__getattr__ = real_module  # type: ignore[method-assign]
    sys.modules[name] = stand_in


class AckClient:
    def __init__(self, region: str, endpoint: Endpoint, credentials: CredentialSource, *,
                 timeout: float = 30) -> None:
        self.region, self.endpoint, self._credentials, self._timeout = region, endpoint, credentials, timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def _acs(self) -> Any:
        with self._lock:
            if self._client is None:
                _defer_key_pair_signing()
                from aliyunsdkcore.client import AcsClient

                # auto_retry off: retries are ours (calls.call), and core never retries CS anyway.
                client = AcsClient("placeholder", "placeholder", self.region, auto_retry=False,
                                   timeout=self._timeout, connect_timeout=self._timeout)
                client._signer = _ProviderSigner(self._credentials)
                self._client = client
            return self._client

    def request(self, action: str, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        """One ROA call; returns the decoded JSON body. Raises ApiError or ConnectError."""

        def attempt() -> tuple[Any, str | None]:
            from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
            from aliyunsdkcore.request import CommonRequest

            req = CommonRequest(domain=self.endpoint.netloc, version=API_VERSION, action_name=action,
                                uri_pattern=path)
            req.set_method(method)
            req.set_protocol_type(self.endpoint.scheme)
            req.add_header("Content-Type", "application/json")
            for key, value in (query or {}).items():
                if value is not None:
                    req.add_query_param(key, _query_value(value))
            if body is not None:
                req.set_content(json.dumps(body).encode("utf-8"))
            try:
                raw = self._acs().do_action_with_exception(req)
            except ServerException as exc:
                code, message, request_id = _error_fields(exc)
                cluster = _CLUSTER_PATH.match(path)
                if code == "ErrorClusterNotFound" and cluster:
                    raise ClusterNotFoundError(cluster[1], self.region, action=action, request_id=request_id,
                                               endpoint=self.endpoint.url) from None
                raise ApiError(SERVICE, action, code, message, status=exc.get_http_status(),
                               request_id=request_id, endpoint=self.endpoint.url) from None
            except ClientException as exc:
                if exc.get_error_code() in ("SDK.HttpError", "SDK.ServerUnreachable"):
                    if _timed_out(exc.get_error_msg()):
                        raise ConnectError(SERVICE, self.endpoint.url, f"timed out after {self._timeout:g} s",
                                           timed_out=True) from None
                    raise ConnectError(SERVICE, self.endpoint.url, _short_reason(exc.get_error_msg())) from None
                raise ApiError(SERVICE, action, exc.get_error_code(), exc.get_error_msg(),
                               endpoint=self.endpoint.url) from None
            data = json.loads(raw) if raw else {}
            request_id = data.get("request_id") or data.get("requestId") if isinstance(data, dict) else None
            return data, request_id

        return calls.call(SERVICE, action, attempt)

    # -- clusters ----------------------------------------------------------------------------
    def list_clusters(self) -> list[dict[str, Any]]:
        clusters: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.request("DescribeClustersV1", "GET", "/api/v1/clusters",
                                query={"page_number": page, "page_size": 100, "region_id": self.region})
            batch = data.get("clusters") or []
            clusters.extend(batch)
            total = int((data.get("page_info") or {}).get("total_count") or 0)
            if not batch or len(clusters) >= total:
                return clusters
            page += 1

    def get_cluster(self, cluster_id: str) -> dict[str, Any]:
        data = self.request("DescribeClusterDetail", "GET", f"/clusters/{_seg(cluster_id)}")
        return decode_json_strings(data, ("meta_data", "master_url"))

    def list_nodes(self, cluster_id: str) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.request("DescribeClusterNodes", "GET", f"/clusters/{_seg(cluster_id)}/nodes",
                                query={"pageNumber": page, "pageSize": 100})
            batch = data.get("nodes") or []
            nodes.extend(batch)
            total = int((data.get("page") or {}).get("total_count") or 0)
            if not batch or len(nodes) >= total:
                return nodes
            page += 1

    def list_nodepools(self, cluster_id: str) -> list[dict[str, Any]]:
        data = self.request("DescribeClusterNodePools", "GET", f"/clusters/{_seg(cluster_id)}/nodepools")
        return data.get("nodepools") or []

    def user_kubeconfig(self, cluster_id: str, *, private: bool = False, minutes: int | None = None) -> str:
        data = self.request("DescribeClusterUserKubeconfig", "GET", f"/k8s/{_seg(cluster_id)}/user_config",
                            query={"PrivateIpAddress": private, "TemporaryDurationMinutes": minutes})
        return data.get("config") or ""

    # -- addons ------------------------------------------------------------------------------
    def list_addon_instances(self, cluster_id: str) -> list[dict[str, Any]]:
        data = self.request("ListClusterAddonInstances", "GET", f"/clusters/{_seg(cluster_id)}/addon_instances")
        return data.get("addons") or []

    def get_addon_instance(self, cluster_id: str, name: str) -> dict[str, Any] | None:
        """The installed addon, or None when it is not installed (AddonNotFound)."""
        try:
            return self.request("GetClusterAddonInstance", "GET",
                                f"/clusters/{_seg(cluster_id)}/addon_instances/{_seg(name)}")
        except ApiError as exc:
            if exc.code == "AddonNotFound":
                return None
            raise

    def list_addons(self, cluster_id: str) -> list[dict[str, Any]]:
        data = self.request("ListAddons", "GET", "/addons", query={"cluster_id": cluster_id})
        return data.get("addons") or []

    def describe_addon(self, cluster_id: str, name: str) -> dict[str, Any]:
        return self.request("DescribeAddon", "GET", f"/addons/{_seg(name)}", query={"cluster_id": cluster_id})

    def install_addons(self, cluster_id: str, addons: list[dict[str, Any]]) -> str:
        """Starts installing; returns the task id. `addons`: [{"name", "version", "config"}]."""
        body = [{"name": a["name"], "version": a.get("version") or "", "config": a.get("config") or ""}
                for a in addons]
        data = self.request("InstallClusterAddons", "POST", f"/clusters/{_seg(cluster_id)}/components/install",
                            body=body)
        return _task_id(data, "InstallClusterAddons")

    def uninstall_addons(self, cluster_id: str, names: list[str]) -> str:
        body = [{"name": n, "cleanup_cloud_resources": False} for n in names]
        data = self.request("UnInstallClusterAddons", "POST",
                            f"/clusters/{_seg(cluster_id)}/components/uninstall", body=body)
        return _task_id(data, "UnInstallClusterAddons")

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self.request("DescribeTaskInfo", "GET", f"/tasks/{_seg(task_id)}")


def _task_id(data: dict[str, Any], action: str) -> str:
    task_id = data.get("task_id")
    if not task_id:
        raise ApiError(SERVICE, action, "NoTaskId", "the response carried no task id")
    return task_id


def _seg(value: str) -> str:
    """A path segment, escaped so a user-supplied id can never change the path."""
    return quote(value, safe="")


def _query_value(value: Any) -> str:
    # The core SDK would send Python's True/False; the API wants true/false.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timed_out(message: str) -> bool:
    return re.search(r"timed out|timeout", message, re.I) is not None


def _short_reason(message: str) -> str:
    for pattern in (r"Connection refused", r"Name or service not known", r"timed out", r"Temporary failure",
                    r"certificate verify failed", r"Connection reset", r"Remote end closed"):
        if re.search(pattern, message, re.I):
            return pattern.replace(r"\ ", " ").lower()
    return message.strip().splitlines()[0][:200] if message.strip() else "connection failed"


def decode_json_strings(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """ACK returns some nested objects as JSON text (`meta_data`, `master_url`); decode them."""
    out = dict(data)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                out[key] = json.loads(value)
            except ValueError:
                pass
    return out
