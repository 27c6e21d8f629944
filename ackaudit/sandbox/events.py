"""Audit rows for one exec session, in the shape ack-advanced-audit ships to the logstore.

A session starts with a `kind: Kubernetes` / `PodExec` event (someone ran `kubectl exec`) and goes on
with one `kind: Command` event per process started inside the container; all of them share the
session's `traceId`. The raw key casing follows `ackaudit.audit.fields` (see its docstring).
"""

from __future__ import annotations

import functools
import json
import posixpath
import random
import secrets
import time as _time
from datetime import datetime, timezone
from typing import Any

from ackaudit.audit.fields import KIND_COMMAND, KIND_KUBERNETES, OPERATION_POD_EXEC


def iso_time(when: float) -> str:
    """`when` (epoch seconds) as the audit log writes it: ISO 8601 UTC with microseconds."""
    second, micro = divmod(round(when * 1_000_000), 1_000_000)
    return f"{_utc_second(second)}.{micro:06d}Z"


@functools.lru_cache(maxsize=4096)
def _utc_second(second: int) -> str:
    # Sessions put many events in the same second: formatting each second once is much faster.
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


_quote = json.encoder.encode_basestring    # a JSON string literal, non-ASCII kept as is


class SessionRecorder:
    """Records one exec session into `cluster`'s audit log shape; `rows()` returns what to append."""

    def __init__(self, cluster: dict, pod: dict, container: str, user: dict, exec_command: list[str],
                 when: float, rng: random.Random | None = None, *, stdin: bool = True,
                 tty: bool = True) -> None:
        self._rng = rng
        self._cluster_id = cluster["cluster_id"]
        node = next((n for n in cluster.get("nodes", []) if n["node_name"] == pod.get("node_name")), None)
        self._host_ip = node["ip"] if node else ""
        image = next((c["image"] for c in pod.get("containers", []) if c["name"] == container), "")
        who = {"username": user["username"], "aliuid": user.get("aliuid", ""), "groups": list(user.get("groups", []))}
        where = {"namespace": pod["namespace"], "name": pod["name"], "labels": dict(pod.get("labels", {}))}
        # What stays the same for the whole session is encoded once.
        self._host = _json({"hostip": self._host_ip, "nodename": pod.get("node_name", "")})
        self._k8s_exec = _json({"user": who, "pod": where})
        self._k8s_command = _json({"user": who, "pod": where, "container": {"name": container, "image": image}})
        self._rows: list[dict] = []
        self.trace_id = self._hex_id()
        operation = {"kind": OPERATION_POD_EXEC, "podExecOptions": {
            "container": container, "command": list(exec_command), "commandStr": " ".join(exec_command),
            "stdin": stdin, "tty": tty}}
        self._record(when, KIND_KUBERNETES, self._k8s_exec, "kubeObject", _json({"operation": operation}))

    def command(self, argv: list[str], *, cwd: str, pid: int, parent_pid: int, parent_name: str,
                uid: int = 0, when: float | None = None) -> dict:
        """Record one process start (`argv[0]` may be a path); returns its raw row."""
        name = posixpath.basename(argv[0])
        # Like Falco's proc.cmdline: the executable's name and its arguments, joined by spaces.
        cmdline = " ".join([name, *argv[1:]])
        # The hot path of bulk generation: the same compact JSON json.dumps would give, written out.
        process = (f'{{"name":{_quote(name)},"cmdline":{_quote(cmdline)},"cwd":{_quote(cwd)},'
                   f'"pid":{int(pid)},"parentPid":{int(parent_pid)},"parentName":{_quote(parent_name)},'
                   f'"user":{{"uid":{int(uid)}}}}}')
        return self._record(_time.time() if when is None else when, KIND_COMMAND, self._k8s_command,
                            "process", process)

    def rows(self) -> list[dict]:
        """The session's raw SLS rows, in the order they were recorded."""
        return list(self._rows)

    def _record(self, when: float, kind: str, k8s: str, detail_key: str, detail: str) -> dict:
        time_text = iso_time(when)
        row = {"__time__": round(when * 1_000_000) // 1_000_000, "__source__": self._host_ip, "__topic__": "",
               "kind": kind, "clusterid": self._cluster_id, "time": time_text,
               "traceId": self.trace_id, "eventId": self._hex_id(),
               "k8s": k8s, "host": self._host, detail_key: detail}
        self._rows.append(row)
        return row

    def _hex_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}" if self._rng is not None else secrets.token_hex(16)
