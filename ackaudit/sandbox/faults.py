"""Faults on demand: make the next matching requests fail the way the real services fail.

A fault is `{"kind", "service", "route", "action", "count", "delay", "status"}`:

- kind: `5xx` (a server error), `throttle` (the service's throttling error), `incomplete` (SLS
  GetLogs / histograms answer with `progress: Incomplete` and fewer rows), `slow` (wait `delay`
  seconds, then answer normally), `drop` (close the connection without answering), `deny` (the
  service's permission error: a RAM policy, or Kubernetes RBAC, refusing the request);
- service: `ack`, `sls`, `kube` or None for any;
- route: a regular expression searched in `"METHOD /path"`, or None for any;
- action: the API action the request is for (`DescribeClusterNodePools`, `GetLogStore`, `GetCursor`,
  `ReadConfigMap`...: the names the request journal shows), or None for any. Some actions share a
  path (SLS GetLogStore and GetLogs, GetCursor and PullLogs) and only this tells them apart;
- count: how many requests it hits (default 1; -1 = until cleared);
- status: the HTTP status for `5xx` (default 500).

Faults live in memory only (they are never saved with the world).
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass

KINDS = ("5xx", "throttle", "incomplete", "slow", "drop", "deny")
SERVICES = ("ack", "sls", "kube")


@dataclass
class Fault:
    kind: str
    service: str | None = None
    route: str | None = None
    action: str | None = None
    count: int = 1
    delay: float = 0.0
    status: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.service is not None and self.service not in SERVICES:
            raise ValueError(f"fault service must be one of {', '.join(SERVICES)} or null, not {self.service!r}")
        if self.route is not None:
            re.compile(self.route)
        if self.count == 0 or self.count < -1:
            raise ValueError("fault count must be a positive number, or -1 for until cleared")
        if self.delay < 0:
            raise ValueError("fault delay must not be negative")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("fault status must be an HTTP error status (400-599)")

    @classmethod
    def from_dict(cls, data: dict) -> Fault:
        unknown = set(data) - {"kind", "service", "route", "action", "count", "delay", "status"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a kind")
        return cls(kind=data["kind"], service=data.get("service"), route=data.get("route"), action=data.get("action"),
                   count=int(data.get("count", 1)), delay=float(data.get("delay") or 0.0),
                   status=None if data.get("status") is None else int(data["status"]))

    def matches(self, service: str, method: str, path: str, action: str | None = None) -> bool:
        if self.service is not None and self.service != service:
            return False
        if self.action is not None and self.action != action:
            return False
        return self.route is None or re.search(self.route, f"{method} {path}") is not None


class FaultRegistry:
    """The armed faults, shared by the server's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault | dict) -> Fault:
        fault = fault if isinstance(fault, Fault) else Fault.from_dict(fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, service: str, method: str, path: str, action: str | None = None) -> Fault | None:
        """The first armed fault matching this request, used up by one hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, method, path, action):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return fault
        return None
