"""What the emulated cloud knows: clusters, tasks, SLS projects, alert resources, and the events.

One `SandboxState` is shared by every route module. All mutation happens under `state.lock`.
Everything except the events is plain JSON-able data, saved to `<state_dir>/world.json` with an
atomic replace after each mutating request (`save()`); the events live in the embedded query
engine's DuckDB file `<state_dir>/events.duckdb`.

Shapes (the route modules and the world generator agree on these):

clusters[cluster_id] = {
    "cluster_id", "name", "region_id", "cluster_type", "profile", "cluster_spec",
    "current_version", "state", "created", "updated", "vpc_id", "zone_id",
    "meta_data": {...},                      # a dict here; ACK serialises it as a JSON string
    "nodes": [{"node_name", "instance_id", "ip", "os_image", "kernel_version",
               "container_runtime_version", "kubelet_version", "architecture",
               "nodepool_id", "ready"}],
    "nodepools": [{"nodepool_id", "name", "image_type"}],
    "addons": {name: {"name", "version", "state", "config", "task_id"?}},
    "pods": [{"namespace", "name", "node_name", "ip", "labels", "containers": [{"name", "image"}]}],
    "configmaps": {"<namespace>/<name>": {key: value}},
    "users": {bearer_token: {"username", "aliuid", "groups"}},
}
tasks[task_id] = {"task_id", "cluster_id", "task_type", "created" (epoch float), "delay",
                  "outcome": "success"|"fail", "error": {...}|None, "stages": [...], "addons": [...]}
    A task's state is derived from the wall clock (running until created+delay), so it
    progresses across separate processes that share a state directory.
projects[name] = {"projectName", "region", "description", "createTime",
                  "logstores": {name: logstore_config}, "indexes": {logstore: index_config},
                  "jobs": {name: job}, "dashboards": {name: dashboard}}
resources[name] = {"name", "type", "description", "records": {record_id: record}}
robots["<kind>:<token>"] = {"kind", "token", "secret", "keywords": [...]}   # chat robots (webhooks.py)
alert_runs["<project>/<rule>"] = {"created", "next_run", "last_to", "consecutive"}   # alert_engine.py
webhook_messages = [{"time", "kind", "token", "status", "accepted", "answer", "body"}]   # not persisted
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_REGION = "cn-hangzhou"
SANDBOX_ACCESS_KEY_ID = "sandbox"
SANDBOX_ACCESS_KEY_SECRET = "sandbox"
SANDBOX_ACCOUNT_ID = "1380000000000001"   # the emulated Alibaba Cloud account (aliuid)

_PERSISTED = ("clusters", "tasks", "projects", "resources", "robots", "settings", "meta", "alert_runs")


class SandboxState:
    def __init__(self, state_dir: str | os.PathLike | None = None, *, shared_events: bool = False) -> None:
        self.lock = threading.RLock()
        # shared_events: hold the events' DuckDB file only during each call, so that other
        # processes (other `--sandbox` commands) can use the same world in turn.
        self.shared_events = shared_events
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.credentials: dict[str, str] = {SANDBOX_ACCESS_KEY_ID: SANDBOX_ACCESS_KEY_SECRET}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        self.robots: dict[str, dict[str, Any]] = {}
        # What the emulated robots received, newest last; kept in memory only.
        self.webhook_messages: list[dict[str, Any]] = []
        # task_delay: seconds an addon task stays "running"; fail_install: addon names whose
        # install task fails (for tests of the failure path).
        # alert_schedule runs alert rules in the background; alert_clock_speed divides alert rules' intervals (alert_engine.py); alert_ingest_delay is
        # how long the engine leaves for rows still being shipped.
        self.settings: dict[str, Any] = {"task_delay": 3.0, "fail_install": [], "exec_sleep_cap": 2.0,
                                         "alert_schedule": True, "alert_clock_speed": 1.0,
                                         "alert_ingest_delay": 3}
        # The alert engine's bookkeeping per rule ("<project>/<name>": next run, end of the last window).
        self.alert_runs: dict[str, dict[str, Any]] = {}
        # What the emulated SMS, voice, email and Notification Center sent; kept in memory only.
        self.alert_notifications: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {"created": time.time(), "seed": None}
        self._events = None
        # Set by the server when it starts: the base URL kubeconfigs point at (not persisted).
        self.server_url: str = "http://127.0.0.1"

    # -- events -------------------------------------------------------------------------
    @property
    def events(self):
        """The embedded query engine's store (opened lazily: DuckDB is a heavy import)."""
        if self._events is None:
            from ackaudit.engine import EventStore

            path = None
            if self.state_dir is not None:
                self.state_dir.mkdir(parents=True, exist_ok=True)
                path = self.state_dir / "events.duckdb"
            self._events = EventStore(path, shared=self.shared_events)
        return self._events

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PERSISTED}

    def save(self) -> None:
        if self.state_dir is None:
            return
        with self.lock:
            data = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".world.", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, self.state_dir / "world.json")

    @classmethod
    def load(cls, state_dir: str | os.PathLike, *, shared_events: bool = False) -> SandboxState | None:
        """The state saved in `state_dir`, or None when there is none yet."""
        path = Path(state_dir) / "world.json"
        if not path.exists():
            return None
        state = cls(state_dir, shared_events=shared_events)
        data = json.loads(path.read_text(encoding="utf-8"))
        for k in _PERSISTED:
            if k in data:
                setattr(state, k, data[k])
        # A world saved by an older version lacks the newer settings.
        state.settings = {**cls().settings, **state.settings}
        return state

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
