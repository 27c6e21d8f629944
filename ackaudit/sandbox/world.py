"""The seeded sandbox world: what a newcomer sees with `ackaudit --sandbox`, and what tests run on.

Region cn-hangzhou, account `SANDBOX_ACCOUNT_ID`, four clusters with fixed ids:

- `AUDITED_CLUSTER_ID` "prod-hangzhou": ACK managed Pro (`ManagedKubernetes`, profile `Default`,
  `ack.pro.small`), 1.31.1-aliyun.1, four Alibaba Cloud Linux 3 nodes (kernel 5.10) in two node
  pools, workloads in `payments`, `web`, `data`, `ci`, `default` and `kube-system`. Container audit
  is on: addons `logtail-ds` and `ack-advanced-audit` 0.9.0 active; the ConfigMap
  `kube-system/alibaba-log-configuration` names the project `k8s-log-<id>`, which holds the
  logstore `advaudit-<id>` (ttl 180 days, hot 30, 2 shards, the bundled index) with seven days of
  history ending at `now` (see `world_history.py`), plus the log component's own logstores.
- `ELIGIBLE_CLUSTER_ID` "staging-hangzhou": ACK managed Pro 1.30.7-aliyun.1 on ContainerOS 3.5
  (kernel 5.10). `logtail-ds` is installed (so its project exists without an audit logstore);
  `ack-advanced-audit` is not. Enabling audit here is the happy path.
- `INELIGIBLE_CLUSTER_ID` "legacy-ubuntu": ACK managed Basic 1.28.9-aliyun.1 with Ubuntu 22.04
  nodes (Ubuntu needs cluster version >= 1.30) and one CentOS 7 node (kernel 3.10, an unsupported
  OS and kernel). No log component.
- `SERVERLESS_CLUSTER_ID` "serverless-batch": ACK Serverless (profile `Serverless`): a cluster type
  the feature does not support; only a virtual node.

The topology never depends on the seed; the history does. Same seed and same `now` give the same
world, byte for byte.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from importlib import resources
from typing import Any

from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID, SandboxState
from ackaudit.sandbox.world_clusters import (
    AUDIT_LOGSTORE_HOT_TTL_DAYS,
    AUDIT_LOGSTORE_TTL_DAYS,
    AUDITED_CLUSTER_ID,
    ELIGIBLE_CLUSTER_ID,
    INELIGIBLE_CLUSTER_ID,
    SERVERLESS_CLUSTER_ID,
    audit_logstore_name,
    audited_cluster,
    eligible_cluster,
    ineligible_cluster,
    log_project,
    log_project_name,
    logstore,
    serverless_cluster,
)
from ackaudit.sandbox.world_history import (
    CI_DEPLOYER,
    DATA_ENGINEER,
    IDENTITIES,
    INTRUDER,
    ON_CALL,
    PAYMENTS_DEV,
    SEEDED_SECRETS,
    SRE_ADMIN,
    WEB_DEV,
    history_rows,
)

__all__ = [
    "AUDITED_CLUSTER_ID", "ELIGIBLE_CLUSTER_ID", "INELIGIBLE_CLUSTER_ID", "SERVERLESS_CLUSTER_ID",
    "ACCOUNT_OWNER", "CI_DEPLOYER", "DATA_ENGINEER", "INTRUDER", "ON_CALL", "PAYMENTS_DEV", "SRE_ADMIN",
    "WEB_DEV", "SEEDED_SECRETS", "audit_index", "build_world",
]

HISTORY_DAYS = 7
# The account itself (the sandbox's AccessKey belongs to it); ACK names it by its UID.
ACCOUNT_OWNER = {"username": SANDBOX_ACCOUNT_ID, "aliuid": SANDBOX_ACCOUNT_ID,
                 "groups": ["system:masters", "system:authenticated"]}


def audit_index() -> dict[str, Any]:
    """The bundled SLS index definition of the audit logstore."""
    text = resources.files("ackaudit.data").joinpath("advaudit-index.json").read_text(encoding="utf-8")
    return json.loads(text)


def build_world(state: SandboxState, *, seed: int = 1, now: float | None = None) -> None:
    """Fill a fresh `state` with the sandbox world (see the module docstring)."""
    now = time.time() if now is None else float(now)
    with state.lock:
        audited = audited_cluster(now, [ACCOUNT_OWNER, *IDENTITIES])
        eligible = eligible_cluster(now, [ACCOUNT_OWNER, SRE_ADMIN, PAYMENTS_DEV, WEB_DEV, CI_DEPLOYER])
        clusters = [audited, eligible, ineligible_cluster(now, [ACCOUNT_OWNER, SRE_ADMIN]),
                    serverless_cluster(now, [ACCOUNT_OWNER, DATA_ENGINEER])]
        state.clusters.update({c["cluster_id"]: c for c in clusters})
        for cluster in (audited, eligible):
            created = datetime.fromisoformat(cluster["created"]).timestamp() + 900
            state.projects[log_project_name(cluster["cluster_id"])] = log_project(cluster, created=created)
        _enable_audit_logstore(state, audited, seed=seed, now=now)
        state.meta.update(seed=seed, now=now, created=now)


def _enable_audit_logstore(state: SandboxState, cluster: dict[str, Any], *, seed: int, now: float) -> None:
    project_name = log_project_name(cluster["cluster_id"])
    name = audit_logstore_name(cluster["cluster_id"])
    project = state.projects[project_name]
    # The audit was switched on 60 days ago, so the logstore predates the seeded history.
    project["logstores"][name] = logstore(name, created=now - 60 * 86400, ttl=AUDIT_LOGSTORE_TTL_DAYS,
                                          hot_ttl=AUDIT_LOGSTORE_HOT_TTL_DAYS)
    index = audit_index()
    project["indexes"][name] = index
    events = state.events
    events.ensure_logstore(project_name, name)
    events.set_index(project_name, name, index)
    events.append(project_name, name, history_rows(cluster, seed=seed, now=now, days=HISTORY_DAYS))
