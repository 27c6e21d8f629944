"""A cluster's Kubernetes API, through the official client, and light reads without it.

The kubeconfig comes from ACK (DescribeClusterUserKubeconfig, short-lived) unless the user gives one
(`--kubeconfig`, `--context`). Each KubeClient has its own ApiClient: no global configuration.

Importing the official client costs about half a second (its API classes are built with pydantic),
which every cluster command would pay for the one ConfigMap that names the SLS project, and
`status` for listing nodes, DaemonSets and pods. `LightKubeReader` makes those reads (one GET each,
as the official client does) through urllib3 instead, for the kubeconfigs it fully understands (a
bearer token or an inline client certificate, an inline CA or the system's, no proxy); for any
other (exec plugins, auth providers, files named by the kubeconfig, a proxy)
`LightKubeReader.from_kubeconfig` answers None and the official client is used. Answers and errors
are the same either way: 401/403 an AuthError, 404 "no such ConfigMap", timeouts and dropped
connections a ConnectError, all through `calls.call`. Exec stays with the official client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ackaudit.cloud import calls
from ackaudit.errors import ApiError, AuthError, ConnectError, UsageError, one_line, shown, shown_path

SERVICE = "Kubernetes"
DEFAULT_TIMEOUT = 30.0   # seconds to connect, then to answer (ACKAUDIT_TIMEOUT)


@dataclass(frozen=True)
class Node:
    name: str
    os_image: str
    kernel_version: str
    kubelet_version: str
    ready: bool
    internal_ip: str | None
    labels: dict[str, str]


@dataclass(frozen=True)
class DaemonSet:
    namespace: str
    name: str
    images: list[str]
    desired: int
    ready: int
    node_selector: dict[str, str]


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node_name: str | None
    phase: str
    ready: bool
    labels: dict[str, str]


class KubeClient:
    def __init__(self, api_client: Any, server: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._api = api_client
        self.server = server
        self._timeout_seconds = timeout
        self._timeout = (timeout, timeout)   # (connect, read)

    @classmethod
    def from_kubeconfig(cls, config: dict[str, Any], context: str | None = None, *,
                        timeout: float = DEFAULT_TIMEOUT) -> KubeClient:
        from kubernetes import config as kconfig
        from kubernetes.client import Configuration

        settings = type.__call__(Configuration)   # a fresh one, not a copy of the global default
        # No urllib3 retries: they would retry a read timeout three times over. Retries are ours
        # (calls.call): 5xx, throttling and dropped connections, never a timeout.
        settings.retries = False
        check_context(config, context)
        try:
            api_client = kconfig.new_client_from_config_dict(config, context=context, persist_config=False,
                                                             client_configuration=settings)
        except Exception as exc:  # the loader raises ConfigException and plain errors alike
            raise UsageError(f"cannot use the kubeconfig: {one_line(exc)}") from None
        return cls(api_client, api_client.configuration.host, timeout=timeout)

    @classmethod
    def from_file(cls, path: str, context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> KubeClient:
        return cls.from_kubeconfig(load_kubeconfig_file(path), context, timeout=timeout)

    def _call(self, action: str, fn: Any) -> Any:
        def attempt() -> tuple[Any, None]:
            from kubernetes.client.exceptions import ApiException
            from urllib3.exceptions import HTTPError
            from urllib3.exceptions import TimeoutError as Urllib3Timeout

            try:
                return fn(), None
            except ApiException as exc:
                if exc.status in (401, 403):
                    raise AuthError(f"Kubernetes API at {self.server} refused {action}: {exc.status} {exc.reason}",
                                    hint="the identity needs read access to nodes, pods, daemonsets and "
                                         "kube-system configmaps") from None
                raise ApiError(SERVICE, action, str(exc.reason or "Error"), f"HTTP {exc.status}",
                               status=exc.status, endpoint=self.server) from None
            except Urllib3Timeout:
                raise ConnectError(SERVICE, self.server, f"timed out after {self._timeout_seconds:g} s",
                                   timed_out=True) from None
            except HTTPError as exc:
                raise ConnectError(SERVICE, self.server, _reason(exc)) from None

        return calls.call(SERVICE, action, attempt)

    def _core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self._api)

    def _apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self._api)

    def list_nodes(self) -> list[Node]:
        items = self._call("ListNodes", lambda: self._core().list_node(_request_timeout=self._timeout)).items
        nodes = []
        for item in items:
            info = item.status.node_info
            conditions = {c.type: c.status for c in (item.status.conditions or [])}
            addresses = {a.type: a.address for a in (item.status.addresses or [])}
            nodes.append(Node(item.metadata.name, info.os_image, info.kernel_version, info.kubelet_version,
                              conditions.get("Ready") == "True", addresses.get("InternalIP"),
                              dict(item.metadata.labels or {})))
        return nodes

    def list_daemonsets(self, namespace: str = "kube-system") -> list[DaemonSet]:
        items = self._call("ListDaemonSets",
                           lambda: self._apps().list_namespaced_daemon_set(namespace, _request_timeout=self._timeout)).items
        out = []
        for item in items:
            spec = item.spec.template.spec
            out.append(DaemonSet(item.metadata.namespace, item.metadata.name,
                                 [c.image for c in spec.containers or []],
                                 item.status.desired_number_scheduled, item.status.number_ready,
                                 dict(spec.node_selector or {})))
        return out

    def list_pods(self, namespace: str, label_selector: str | None = None) -> list[Pod]:
        items = self._call("ListPods", lambda: self._core().list_namespaced_pod(
            namespace, label_selector=label_selector or "", _request_timeout=self._timeout)).items
        out = []
        for item in items:
            conditions = {c.type: c.status for c in (item.status.conditions or [])}
            out.append(Pod(item.metadata.namespace, item.metadata.name, item.spec.node_name,
                           item.status.phase or "", conditions.get("Ready") == "True",
                           dict(item.metadata.labels or {})))
        return out

    def list_all_pods(self) -> list[Pod]:
        items = self._call("ListPods", lambda: self._core().list_pod_for_all_namespaces(
            _request_timeout=self._timeout)).items
        out = []
        for item in items:
            conditions = {c.type: c.status for c in (item.status.conditions or [])}
            out.append(Pod(item.metadata.namespace, item.metadata.name, item.spec.node_name,
                           item.status.phase or "", conditions.get("Ready") == "True",
                           dict(item.metadata.labels or {})))
        return out

    def exec(self, namespace: str, name: str, command: list[str], *, container: str | None = None,
             timeout: float = 30) -> tuple[str, int | None]:
        """Run `command` in the pod without a terminal or stdin: (stdout and stderr, exit code)."""
        from kubernetes.stream import stream

        def run() -> tuple[str, int | None]:
            kwargs = {"container": container} if container else {}
            resp = stream(self._core().connect_get_namespaced_pod_exec, name, namespace, command=command,
                          stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False, **kwargs)
            try:
                resp.run_forever(timeout=timeout)
                code = resp.returncode   # before read_all(), which forgets the status channel
                return resp.read_all(), code
            finally:
                resp.close()

        return self._call("ExecPod", run)

    def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = self._call("ReadConfigMap",
                            lambda: self._core().read_namespaced_config_map(name, namespace, _request_timeout=self._timeout))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})

    def close(self) -> None:
        self._api.close()


def load_kubeconfig_file(path: str) -> Any:
    """The parsed kubeconfig `path` (read once: it may be a pipe)."""
    import yaml

    from ackaudit.userfiles import read_text

    text = read_text(path, "kubeconfig")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"cannot read kubeconfig {shown_path(path)}: {one_line(exc)}") from None


def check_context(config: Any, context: str | None) -> None:
    """A --context the kubeconfig does not have is the user's to fix."""
    if context is None:
        return
    contexts = config.get("contexts") if isinstance(config, dict) else None
    names = [str(c.get("name")) for c in contexts or [] if isinstance(c, dict)]
    if context not in names:
        raise UsageError(f"--context {shown(context)} is not in the kubeconfig",
                         hint=f"its contexts: {', '.join(shown(n) for n in names[:5]) or 'none'}")


# What LightKubeReader understands of a kubeconfig; anything else set leaves it to the official client.
_LIGHT_CLUSTER_KEYS = {"server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name"}
_LIGHT_USER_KEYS = {"token", "client-certificate-data", "client-key-data"}


def _named(config: dict[str, Any], section: str, name: Any, key: str) -> dict[str, Any] | None:
    for item in config.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name and isinstance(item.get(key), dict):
            return item[key]
    return None


class LightKubeReader:
    """The read-only calls of KubeClient that status and discovery make, each one GET through urllib3,
    without importing the official client."""

    def __init__(self, server: str, headers: dict[str, str], pool: Any, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server = server.rstrip("/")
        self._headers, self._pool, self._timeout_seconds = headers, pool, timeout

    @classmethod
    def from_kubeconfig(cls, config: Any, context: str | None = None, *,
                        timeout: float = DEFAULT_TIMEOUT) -> LightKubeReader | None:
        """A reader for this kubeconfig, or None when only the official client can use it."""
        import base64
        import binascii
        import ssl
        import urllib.request
        from urllib.parse import urlsplit

        check_context(config, context)
        if not isinstance(config, dict):
            return None
        ctx = _named(config, "contexts", context or config.get("current-context"), "context")
        if ctx is None or set(ctx) - {"cluster", "user", "namespace"}:
            return None
        cluster = _named(config, "clusters", ctx.get("cluster"), "cluster")
        user = _named(config, "users", ctx.get("user"), "user") if ctx.get("user") else {}
        if cluster is None or user is None:
            return None
        if {k for k, v in cluster.items() if v not in (None, "", False)} - _LIGHT_CLUSTER_KEYS \
                or {k for k, v in user.items() if v not in (None, "")} - _LIGHT_USER_KEYS:
            return None
        server = cluster.get("server")
        if not isinstance(server, str) or urlsplit(server).scheme not in ("http", "https") \
                or not urlsplit(server).hostname:
            return None
        proxies = urllib.request.getproxies()
        if proxies.get(urlsplit(server).scheme) or proxies.get("all"):
            return None                  # the official client tunnels through it; so should we
        headers = {"Accept": "application/json", "User-Agent": "ackaudit"}
        token = user.get("token")
        if token:
            if not isinstance(token, str):
                return None
            headers["Authorization"] = f"Bearer {token}"
        import urllib3

        urllib3_timeout = urllib3.Timeout(connect=timeout, read=timeout)
        if urlsplit(server).scheme == "http":
            return cls(server, headers, urllib3.PoolManager(timeout=urllib3_timeout, retries=False), timeout=timeout)
        try:
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode("ascii") \
                if cluster.get("certificate-authority-data") else None
            cert = base64.b64decode(user["client-certificate-data"]) if user.get("client-certificate-data") else None
            key = base64.b64decode(user["client-key-data"]) if user.get("client-key-data") else None
        except (binascii.Error, ValueError, TypeError):
            return None                  # let the official client say what is wrong with it
        if (cert is None) != (key is None):
            return None
        insecure = cluster.get("insecure-skip-tls-verify") is True
        try:
            tls = ssl.create_default_context(cadata=ca)   # else the system's, as urllib3 does
            if insecure:
                tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
            if cert is not None and key is not None:
                _load_client_certificate(tls, cert, key)
        except (ssl.SSLError, OSError, ValueError):
            return None
        options: dict[str, Any] = {"ssl_context": tls, "timeout": urllib3_timeout, "retries": False}
        if insecure:
            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        if cluster.get("tls-server-name"):
            options["server_hostname"] = str(cluster["tls-server-name"])
        return cls(server, headers, urllib3.PoolManager(**options), timeout=timeout)

    def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        """The ConfigMap's data, or None when there is no such ConfigMap."""
        from urllib.parse import quote

        body = self._get("ReadConfigMap", f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps/"
                                          f"{quote(name, safe='')}", missing_ok=True)
        if body is None:
            return None
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise self._invalid("ReadConfigMap", "the answer is not a ConfigMap")
        return {str(k): str(v) for k, v in data.items()}

    def list_nodes(self) -> list[Node]:
        nodes = []
        for item in self._items("ListNodes", "/api/v1/nodes"):
            meta, status = _dict(item, "metadata"), _dict(item, "status")
            info = _dict(status, "nodeInfo")
            conditions = {c.get("type"): c.get("status") for c in _dicts(status, "conditions")}
            addresses = {a.get("type"): a.get("address") for a in _dicts(status, "addresses")}
            nodes.append(Node(meta.get("name"), info.get("osImage"), info.get("kernelVersion"),
                              info.get("kubeletVersion"), conditions.get("Ready") == "True",
                              addresses.get("InternalIP"), dict(_dict(meta, "labels"))))
        return nodes

    def list_daemonsets(self, namespace: str = "kube-system") -> list[DaemonSet]:
        from urllib.parse import quote

        out = []
        for item in self._items("ListDaemonSets", f"/apis/apps/v1/namespaces/{quote(namespace, safe='')}/daemonsets"):
            meta, status = _dict(item, "metadata"), _dict(item, "status")
            spec = _dict(_dict(_dict(item, "spec"), "template"), "spec")
            out.append(DaemonSet(meta.get("namespace"), meta.get("name"), [c.get("image") for c in _dicts(spec, "containers")],
                                 status.get("desiredNumberScheduled"), status.get("numberReady"),
                                 dict(_dict(spec, "nodeSelector"))))
        return out

    def list_pods(self, namespace: str, label_selector: str | None = None) -> list[Pod]:
        from urllib.parse import quote, urlencode

        query = f"?{urlencode({'labelSelector': label_selector})}" if label_selector else ""
        out = []
        for item in self._items("ListPods", f"/api/v1/namespaces/{quote(namespace, safe='')}/pods{query}"):
            meta, status = _dict(item, "metadata"), _dict(item, "status")
            conditions = {c.get("type"): c.get("status") for c in _dicts(status, "conditions")}
            out.append(Pod(meta.get("namespace"), meta.get("name"), _dict(item, "spec").get("nodeName"),
                           status.get("phase") or "", conditions.get("Ready") == "True", dict(_dict(meta, "labels"))))
        return out

    def _items(self, action: str, path: str) -> list[dict[str, Any]]:
        body = self._get(action, path)
        items = body.get("items") if "items" in body else None
        if items is None and "items" in body:
            items = []                               # an empty list may be sent as null
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._invalid(action, "the answer is not a list")
        return items

    def _invalid(self, action: str, what: str) -> ApiError:
        return ApiError(SERVICE, action, "InvalidResponse", what, status=200, endpoint=self.server)

    def _get(self, action: str, path: str, *, missing_ok: bool = False) -> Any:
        """The JSON object at `path` (None for 404 when `missing_ok`); every failure raised as the
        official client's are."""
        import json

        from urllib3.exceptions import HTTPError
        from urllib3.exceptions import TimeoutError as Urllib3Timeout

        url = self.server + path

        def attempt() -> tuple[Any, None]:
            try:
                resp = self._pool.request("GET", url, headers=self._headers, redirect=False)
            except Urllib3Timeout:
                raise ConnectError(SERVICE, self.server, f"timed out after {self._timeout_seconds:g} s",
                                   timed_out=True) from None
            except HTTPError as exc:
                raise ConnectError(SERVICE, self.server, _reason(exc)) from None
            if resp.status in (401, 403):
                raise AuthError(f"Kubernetes API at {self.server} refused {action}: {resp.status} {resp.reason}",
                                hint="the identity needs read access to nodes, pods, daemonsets and "
                                     "kube-system configmaps")
            if resp.status == 404 and missing_ok:
                return None, None
            if not 200 <= resp.status < 300:
                raise ApiError(SERVICE, action, str(resp.reason or "Error"), f"HTTP {resp.status}",
                               status=resp.status, endpoint=self.server)
            try:
                body = json.loads(resp.data)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise ApiError(SERVICE, action, "InvalidResponse", "the answer is not a JSON object",
                               status=resp.status, endpoint=self.server)
            return body, None

        return calls.call(SERVICE, action, attempt)

    def close(self) -> None:
        self._pool.clear()


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _dicts(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _load_client_certificate(tls: Any, cert: bytes, key: bytes) -> None:
    """ssl loads a certificate and key only from files: private ones, removed at once."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ackaudit-kube-") as tmp:
        paths = []
        for name, data in (("cert.pem", cert), ("key.pem", key)):
            path = os.path.join(tmp, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            paths.append(path)
        tls.load_cert_chain(paths[0], paths[1])


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    for needle, reason in (("connection refused", "connection refused"),
                           ("remote end closed", "connection closed without an answer"),
                           ("connection aborted", "connection closed without an answer"),
                           ("name or service not known", "name or service not known"),
                           ("certificate verify failed", "certificate verify failed"),
                           ("connection reset", "connection reset")):
        if needle in text:
            return reason
    return type(exc).__name__
