"""Small audit-shaped events for the engine tests, shaped like the `advaudit-<cluster>` logs."""

from __future__ import annotations

import json

import pytest

from ackaudit.engine import EventStore

PROJECT = "k8s-log-c1"
LOGSTORE = "advaudit-c1"
T0 = 1_700_000_000          # 2023-11-14 22:13:20 UTC
WINDOW = (T0 - 3600, T0 + 3600)


def command_event(when: int, *, pod: str = "nginx-1", namespace: str = "default", process: str = "ls",
                  cmdline: str | None = None, user: str = "alice", groups: list[str] | None = None,
                  trace: str = "trace-1", event: str | None = None, pid: int = 100,
                  container: str = "nginx", image: str = "nginx:1.25", **extra) -> dict:
    """A `kind: Command` event: a process run inside a container after `kubectl exec`."""
    return {
        "__time__": when,
        "__source__": "192.168.0.10",
        "kind": "Command",
        "clusterid": "c1",
        "time": "2023-11-14T22:13:20Z",
        "traceId": trace,
        "eventId": event or f"ev-{when}-{pid}",
        "k8s": json.dumps({
            "user": {"username": user, "aliuid": "1380000000000001", "groups": groups or ["system:authenticated"]},
            "pod": {"namespace": namespace, "name": pod, "labels": {"app": pod.rsplit("-", 1)[0]}},
            "container": {"name": container, "image": image},
        }),
        "process": json.dumps({
            "pid": pid, "parentPid": 1, "name": process, "parentName": "bash",
            "cmdline": cmdline if cmdline is not None else process, "cwd": "/root", "user": {"uid": 0},
        }),
        "host": json.dumps({"hostip": "192.168.0.10", "nodename": "node-1"}),
        **extra,
    }


def exec_event(when: int, *, pod: str = "nginx-1", namespace: str = "default", user: str = "alice",
               container: str = "nginx", command: list[str] | None = None, trace: str = "trace-1") -> dict:
    """A `kind: Kubernetes` PodExec event: someone entered a container."""
    command = command or ["bash"]
    return {
        "__time__": when,
        "kind": "Kubernetes",
        "clusterid": "c1",
        "time": "2023-11-14T22:13:20Z",
        "traceId": trace,
        "eventId": f"exec-{when}",
        "k8s": json.dumps({"user": {"username": user, "aliuid": "", "groups": ["system:masters", "dev"]},
                           "pod": {"namespace": namespace, "name": pod, "labels": {"app": "web"}}}),
        "kubeObject": json.dumps({"operation": {"kind": "PodExec", "podExecOptions": {
            "container": container, "command": command, "commandStr": " ".join(command)}}}),
        "host": json.dumps({"hostip": "192.168.0.10", "nodename": "node-1"}),
    }


class Engine:
    """An EventStore holding one audit logstore, with the query helpers the tests read best."""

    T0 = T0
    WINDOW = WINDOW
    PROJECT = PROJECT
    LOGSTORE = LOGSTORE
    command = staticmethod(command_event)
    exec = staticmethod(exec_event)

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def append(self, *rows: dict) -> int:
        return self.store.append(PROJECT, LOGSTORE, rows)

    def query(self, query: str, *, window=WINDOW, **kwargs):
        return self.store.query(PROJECT, LOGSTORE, query, *window, **kwargs)

    def search(self, query: str, **kwargs) -> list[dict[str, str]]:
        result = self.query(query, **kwargs)
        assert not result.has_sql
        return result.rows

    def pods(self, query: str, **kwargs) -> list[str]:
        """The pod of each matching event, in result order."""
        return [json.loads(r["k8s"])["pod"]["name"] for r in self.search(query, **kwargs)]

    def sql(self, query: str, *, window=WINDOW) -> list[dict[str, str]]:
        result = self.query(query, window=window)
        assert result.has_sql
        return result.rows


@pytest.fixture
def store():
    s = EventStore()
    yield s
    s.close()


@pytest.fixture
def engine(store):
    return Engine(store)


@pytest.fixture
def audit(engine):
    """One container entry, then four commands in three pods (times relative to T0)."""
    engine.append(
        exec_event(T0 - 10, pod="nginx-1"),
        command_event(T0, pod="nginx-1", process="rm", cmdline="rm -rf /tmp/a.txt", pid=101),
        command_event(T0 + 60, pod="nginx-2", process="ls", cmdline="ls -la", pid=102, trace="trace-2"),
        command_event(T0 + 125, pod="coredns-1", namespace="kube-system", process="curl",
                      cmdline="curl http://example.com/x?y=1", pid=103, latency="120",
                      msg="connection refused by peer"),
        command_event(T0 + 130, pod="nginx-1", process="cat", cmdline="cat /etc/passwd", pid=104, latency="5"),
    )
    return engine
