"""What every per-cluster command needs to know about one cluster, each piece fetched once.

The SLS project holding the audit logstore is discovered, not assumed (cloud-apis §1.10): the log
component's ConfigMap `kube-system/alibaba-log-configuration` (`log-project`) first, then the log
component addon's `sls_project_name`, then the cluster's `AuditProjectName`, then the convention
`k8s-log-<cluster_id>`. The source used is noted for `-v` and shown by `status`. When the ConfigMap
exists but cannot be read, the next source is used with a warning, and a logstore missing from that
project is reported as "cannot tell" (with the read's exit code), never as "audit is not enabled".
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from ackaudit.cloud import calls
from ackaudit.errors import (
    AckAuditError,
    ApiError,
    AuthError,
    CloudError,
    ClusterNotFoundError,
    ExitCode,
    Gap,
    PreconditionError,
    UsageError,
)

AUDIT_ADDON = "ack-advanced-audit"
LOG_ADDONS = ("loongcollector", "logtail-ds")
LOG_CONFIGMAP = ("kube-system", "alibaba-log-configuration")
CONFIGMAP_SOURCE = "ConfigMap kube-system/alibaba-log-configuration"


def logstore_name(cluster_id: str) -> str:
    return f"advaudit-{cluster_id}"


# SLS answers these when the audit logstore (or its project) is not there: audit was never enabled.
MISSING_LOGSTORE_CODES = ("LogStoreNotExist", "ProjectNotExist")


def audit_not_enabled(cluster_id: str | None, project: str, logstore: str) -> PreconditionError:
    return PreconditionError(f"audit is not enabled: there is no logstore {project}/{logstore}",
                             hint=f"enable it with `ackaudit enable --cluster {cluster_id or 'ID'}`, or check "
                                  f"`ackaudit status --cluster {cluster_id or 'ID'}`")


class ClusterContext:
    def __init__(self, cloud: Any, cluster_id: str, *, kubeconfig: str | None = None,
                 context: str | None = None) -> None:
        self.cloud, self.cluster_id = cloud, cluster_id
        self._kubeconfig, self._context = kubeconfig, context
        self.discovery_error: AckAuditError | None = None   # the ConfigMap could not be read

    @cached_property
    def detail(self) -> dict[str, Any]:
        try:
            return self.cloud.ack.get_cluster(self.cluster_id)
        except ApiError as exc:
            if isinstance(exc, ClusterNotFoundError):
                raise
            if exc.exit_code == 3:
                raise ClusterNotFoundError(self.cluster_id, self.cloud.region, request_id=exc.request_id,
                                           endpoint=exc.endpoint) from None
            raise

    def ensure_exists(self) -> None:
        """Fail with "not found" (exit 3) now, before any question or change."""
        _ = self.detail

    @property
    def name(self) -> str:
        return self.detail.get("name") or self.cluster_id

    @property
    def version(self) -> str:
        return self.detail.get("current_version") or ""

    def addons(self, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        if fresh or "_addons" not in self.__dict__:
            self.__dict__["_addons"] = {a.get("name"): a for a in self.cloud.ack.list_addon_instances(self.cluster_id)}
        return self.__dict__["_addons"]

    @property
    def audit_addon(self) -> dict[str, Any] | None:
        return self.addons().get(AUDIT_ADDON)

    @property
    def log_addon(self) -> dict[str, Any] | None:
        addons = self.addons()
        return next((addons[n] for n in LOG_ADDONS if n in addons), None)

    @cached_property
    def kube(self) -> Any:
        from ackaudit.cloud.kube import KubeClient

        timeout = getattr(self.cloud, "timeout", None) or 30.0
        if self._kubeconfig:
            return KubeClient.from_file(self._kubeconfig, self._context, timeout=timeout)
        import yaml

        text = self.cloud.ack.user_kubeconfig(self.cluster_id, minutes=60)
        return KubeClient.from_kubeconfig(yaml.safe_load(text), self._context, timeout=timeout)

    @cached_property
    def log_config(self) -> dict[str, str] | None:
        """The log component's ConfigMap, or None when absent. When it cannot be read (the API
        server unreachable, no permission...), None too, with the reason in `discovery_error`."""
        self.discovery_error = None
        try:
            return self.kube.read_configmap(*LOG_CONFIGMAP)
        except UsageError:
            raise   # a bad --kubeconfig is the user's to fix
        except AckAuditError as exc:
            self.discovery_error = exc
            return None

    @property
    def discovery_gap(self) -> Gap | None:
        """The ConfigMap read that failed, as a gap in the answer (None when it was read)."""
        if self.discovery_error is None:
            return None
        return self._gap(*self.project)

    def _gap(self, project: str, source: str) -> Gap:
        assert self.discovery_error is not None
        return Gap.of(f"cannot read {CONFIGMAP_SOURCE}, which names the SLS project; using {project} "
                      f"from the {source} instead", self.discovery_error)

    @cached_property
    def project(self) -> tuple[str, str]:
        """(SLS project, where it was found)."""
        self.ensure_exists()
        project, source = self._discover_project()
        calls.note("info", f"SLS project {project} (from the {source})")
        if self.discovery_error is not None:
            calls.note("warning", self._gap(project, source).message)
        return project, source

    def audit_not_enabled(self, project: str | None = None) -> AckAuditError:
        """The error for "there is no audit logstore": audit is not enabled (exit 5), unless the
        project was only guessed because the ConfigMap naming it could not be read."""
        project = project or self.project[0]
        if self.discovery_error is None:
            problem = self.eligibility_problem()
            if problem:
                return PreconditionError(f"audit is not enabled on {self.cluster_id}, and this cluster cannot be "
                                         f"audited: {problem}",
                                         hint=f"see every check with `ackaudit doctor --cluster {self.cluster_id}`")
            return audit_not_enabled(self.cluster_id, project, self.logstore)
        cause = self.discovery_error
        kind = AuthError if cause.exit_code == ExitCode.AUTH else CloudError
        return kind(f"cannot tell whether audit is enabled: there is no logstore {project}/{self.logstore}, "
                    f"and {CONFIGMAP_SOURCE}, which names the project, could not be read: {cause.message}",
                    hint=cause.hint or "pass --kubeconfig if the API server is not reachable from here")

    def eligibility_problem(self) -> str | None:
        """Why this cluster cannot be audited, as far as ACK tells (cluster type, node pools'
        OS images); None when nothing says so or the node pools cannot be read (`doctor` looks
        at the nodes themselves)."""
        from ackaudit.audit.eligibility import cluster_type_problem
        from ackaudit.services.fleet import nodepools_problem

        problem = cluster_type_problem(self.detail)
        if problem:
            return problem
        try:
            return nodepools_problem(self.cloud.ack.list_nodepools(self.cluster_id), self.detail)
        except AckAuditError:
            return None

    def _discover_project(self) -> tuple[str, str]:
        if self.log_config and self.log_config.get("log-project"):
            return self.log_config["log-project"], CONFIGMAP_SOURCE
        log_addon = self.log_addon
        if log_addon and log_addon.get("config"):
            try:
                config = json.loads(log_addon["config"])
            except (TypeError, ValueError):
                config = {}
            if isinstance(config, dict) and config.get("sls_project_name"):
                return config["sls_project_name"], f"addon {log_addon.get('name')} config"
        meta = self.detail.get("meta_data") if isinstance(self.detail.get("meta_data"), dict) else {}
        if meta.get("AuditProjectName"):
            return meta["AuditProjectName"], "cluster meta_data AuditProjectName"
        return f"k8s-log-{self.cluster_id}", "naming convention"

    @property
    def logstore(self) -> str:
        return logstore_name(self.cluster_id)

    def close(self) -> None:
        if "kube" in self.__dict__:
            self.kube.close()
