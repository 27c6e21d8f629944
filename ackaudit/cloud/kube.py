"""A cluster's Kubernetes API, through the official client.

The kubeconfig comes from ACK (DescribeClusterUserKubeconfig, short-lived) unless the user gives one
(`--kubeconfig`, `--context`). Each KubeClient has its own ApiClient: no global configuration.
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
        if context is not None:
            contexts = config.get("contexts") if isinstance(config, dict) else None
            names = [str(c.get("name")) for c in contexts or [] if isinstance(c, dict)]
            if context not in names:
                raise UsageError(f"--context {shown(context)} is not in the kubeconfig",
                                 hint=f"its contexts: {', '.join(shown(n) for n in names[:5]) or 'none'}")
        try:
            api_client = kconfig.new_client_from_config_dict(config, context=context, persist_config=False,
                                                             client_configuration=settings)
        except Exception as exc:  # the loader raises ConfigException and plain errors alike
            raise UsageError(f"cannot use the kubeconfig: {one_line(exc)}") from None
        return cls(api_client, api_client.configuration.host, timeout=timeout)

    @classmethod
    def from_file(cls, path: str, context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> KubeClient:
        import yaml

        from ackaudit.userfiles import read_text

        text = read_text(path, "kubeconfig")
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"cannot read kubeconfig {shown_path(path)}: {one_line(exc)}") from None
        return cls.from_kubeconfig(config, context, timeout=timeout)

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
