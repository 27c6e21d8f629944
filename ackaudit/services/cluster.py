"""What every per-cluster command needs to know about one cluster, each piece fetched once.

The SLS project holding the audit logstore is discovered, not assumed (cloud-apis §1.10). The truth
is the log component's ConfigMap `kube-system/alibaba-log-configuration` (`log-project`): the audit
addon creates the logstore in that project. Reading it means a kubeconfig from ACK and a Kubernetes
request, so it is read only when the cheap sources do not settle the question. The rule:

1. The cheap answer is the first of: the log component addon's `sls_project_name`, the cluster's
   `AuditProjectName` (meta_data), the convention `k8s-log-<cluster_id>` (the order used when there
   is no ConfigMap). When the audit logstore exists in that project (one GetLogStore), it is the
   answer: the log component writes its ConfigMap from that same addon config, and the logstore is
   created in the ConfigMap's project, so finding it there means they agree.
2. Otherwise the ConfigMap decides: its `log-project` when it has one (whether or not the logstore
   exists there: then audit is not enabled in the project the log component uses); without a
   ConfigMap, the cheap answer.
3. When the ConfigMap is needed but cannot be read (the API server unreachable, no permission...),
   the cheap answer is used with a warning, and a logstore missing from it is reported as "cannot
   tell" (with the read's exit code), never as "audit is not enabled".

This gives the same project as reading the ConfigMap first in every case but one: the ConfigMap was
changed to name another project while the cheap answer's project still holds an old audit logstore.
When GetLogStore cannot answer (an error other than "no such logstore"), the ConfigMap decides.

A discovered project whose logstore was seen is remembered for a few minutes (`project_cache`,
keyed by account, region, endpoints and cluster). A remembered project is used only after the same
GetLogStore finds the logstore still there; when it does not, the entry is forgotten and the project
discovered again before anything says audit is not enabled. A remembered project also saves the
cluster's DescribeClusterDetail (and loading the ACK SDK) when nothing else needs it: within those
minutes a cluster deleted since is answered from its logstore, which SLS keeps, rather than with
"not found". The source used is noted for `-v` (with "remembered" when it came from the cache) and
shown by `status`.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from ackaudit.cloud import calls
from ackaudit.environment import project_cache_ttl
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
from ackaudit.services import project_cache

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
                 context: str | None = None, use_cache: bool = True) -> None:
        self.cloud, self.cluster_id = cloud, cluster_id
        self._kubeconfig, self._context = kubeconfig, context
        self._use_cache = use_cache
        self.discovery_error: AckAuditError | None = None   # the ConfigMap could not be read
        self.project_remembered: project_cache.Entry | None = None   # the project came from the cache

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
    def kubeconfig(self) -> Any:
        """The parsed kubeconfig: --kubeconfig's (read once: it may be a pipe), else a short-lived one from ACK."""
        if self._kubeconfig:
            from ackaudit.cloud.kube import load_kubeconfig_file

            return load_kubeconfig_file(self._kubeconfig)
        import yaml

        return yaml.safe_load(self.cloud.ack.user_kubeconfig(self.cluster_id, minutes=60))

    @property
    def _timeout(self) -> float:
        return getattr(self.cloud, "timeout", None) or 30.0

    @cached_property
    def kube(self) -> Any:
        """The official Kubernetes client (nodes, DaemonSets, pods, exec)."""
        from ackaudit.cloud.kube import KubeClient

        return KubeClient.from_kubeconfig(self.kubeconfig, self._context, timeout=self._timeout)

    def check_kube_options(self) -> None:
        """A --kubeconfig that cannot be read or a --context it lacks is a usage error (exit 2) at once,
        whether or not this command gets to use the Kubernetes API."""
        if self._kubeconfig is not None or self._context is not None:
            _ = self.kube      # the official client's loader is the judge of a kubeconfig given by hand

    @cached_property
    def kube_reads(self) -> Any:
        """For reads only (the log ConfigMap, nodes, DaemonSets, pods): one GET each without the
        official client when the kubeconfig allows it (cloud/kube.py), else the official client."""
        from ackaudit.cloud.kube import LightKubeReader

        if "kube" in self.__dict__:
            return self.kube
        return LightKubeReader.from_kubeconfig(self.kubeconfig, self._context, timeout=self._timeout) or self.kube

    @cached_property
    def log_config(self) -> dict[str, str] | None:
        """The log component's ConfigMap, or None when absent. When it cannot be read (the API
        server unreachable, no permission...), None too, with the reason in `discovery_error`."""
        self.discovery_error = None
        try:
            return self.kube_reads.read_configmap(*LOG_CONFIGMAP)
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
        if self._kubeconfig is not None or self._context is not None:
            self.ensure_exists()
            self.check_kube_options()
        remembered = self._remembered_project()
        if remembered is not None:
            project, source = remembered.project, remembered.source
        else:
            self.ensure_exists()
            project, source = self._discover_project()
        if remembered is not None:
            calls.note("info", f"SLS project {project} (from the {source}, remembered {remembered.age():.0f} s ago "
                               f"in {project_cache.cache_dir()})")
        else:
            calls.note("info", f"SLS project {project} (from the {source})")
        if self.discovery_error is not None:
            calls.note("warning", self._gap(project, source).message)
        return project, source

    def forget_project(self) -> None:
        """Discover the project again on next use, without the cache (the world may have changed:
        the log component just installed, the logstore just deleted)."""
        self._forget_remembered()
        for name in ("log_config", "project"):
            self.__dict__.pop(name, None)
        self.discovery_error = None

    def _forget_remembered(self) -> None:
        key = self._cache_key
        if key is not None:
            project_cache.forget(key)
        self.project_remembered = None
        self._use_cache = False

    def audit_not_enabled(self, project: str | None = None) -> AckAuditError:
        """The error for "there is no audit logstore": audit is not enabled (exit 5), unless the
        project was only guessed because the ConfigMap naming it could not be read. A project
        remembered from an earlier run is discovered again first."""
        project = project or self.project[0]
        if self.project_remembered is not None and project == self.project[0]:
            self.forget_project()
            fresh = self.project[0]
            if fresh != project:
                return CloudError(f"the audit logstore is not in project {project} any more, as remembered from "
                                  f"an earlier run: it is in {fresh}",
                                  hint="run the command again: it now uses the new project")
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

    @cached_property
    def _cache_key(self) -> tuple[str, ...] | None:
        identity = getattr(self.cloud, "cache_identity", None)
        return (*identity, self.cluster_id) if identity else None

    def _logstore_seen(self, project: str) -> bool | None:
        """Whether the audit logstore exists in `project`; None when SLS could not say (then the
        ConfigMap decides, and the command's own requests report what is wrong)."""
        from ackaudit.errors import ConnectError

        try:
            return self.cloud.sls.get_logstore(project, self.logstore) is not None
        except ConnectError as exc:
            if exc.timed_out:
                raise      # an SLS that does not answer would make every later request wait again
            return None
        except UsageError:
            raise
        except AckAuditError:
            return None

    def _remembered_project(self) -> project_cache.Entry | None:
        """The remembered project, if its logstore is still there (or SLS could not say: then the
        command's own requests tell, and a missing logstore is discovered again, `audit_not_enabled`)."""
        key, ttl = self._cache_key, project_cache_ttl()
        if key is None or ttl <= 0 or not self._use_cache:
            return None
        entry = project_cache.load(key, ttl)
        if entry is None:
            return None
        if self._logstore_seen(entry.project) is False:
            project_cache.forget(key)     # moved or deleted since: discover it again
            return None
        self.project_remembered = entry
        return entry

    def _discover_project(self) -> tuple[str, str]:
        """(project, source) by the rule in the module docstring."""
        key, ttl = self._cache_key, project_cache_ttl()
        cheap, cheap_source = self._cheap_project()
        if self._logstore_seen(cheap):
            self._remember(key, ttl, cheap, cheap_source)
            return cheap, cheap_source
        if self.log_config and self.log_config.get("log-project"):
            project = self.log_config["log-project"]
            if project != cheap and self._logstore_seen(project):
                self._remember(key, ttl, project, CONFIGMAP_SOURCE)
            return project, CONFIGMAP_SOURCE
        return cheap, cheap_source

    @staticmethod
    def _remember(key: tuple[str, ...] | None, ttl: int, project: str, source: str) -> None:
        if key is not None and ttl > 0:
            project_cache.store(key, project, source)

    def _cheap_project(self) -> tuple[str, str]:
        """The project named by the addon config, the cluster's metadata or the convention."""
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
        if "kube_reads" in self.__dict__ and self.__dict__["kube_reads"] is not self.__dict__.get("kube"):
            self.kube_reads.close()
        if "kube" in self.__dict__:
            self.kube.close()
