"""The container operation audit log's fields, and the flat dotted form ackaudit hands to users.

A raw audit row (as stored in the `advaudit-<cluster_id>` logstore and returned by GetLogs) has a few
scalar top-level fields (`kind`, `clusterid`, `time`, `traceId`, `eventId`) and four JSON-typed
top-level fields (`k8s`, `host`, `kubeObject`, `process`) whose leaves SLS indexes as dotted names
(`k8s.pod.name`, `process.name`, ...). Every value comes back as a string; the JSON fields as JSON
text. ackaudit's output contract is the flat dict of dotted names produced by `flatten_event`.

The raw key casing inside the JSON fields is not documented by Alibaba Cloud. `FIELDS` below is the
ONE place where ackaudit chooses it: camelCase as in the documented JSON paths (`kubeObject`,
`podExecOptions`, `commandStr`, `parentPid`, `parentName`). The sandbox writes exactly that, and
`flatten_event` also accepts any other casing (`kubeobject`, `commandstr`, `parentpid`, ...), since
SLS SQL reports column names lower-cased.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Values of the `kind` field, and of `kubeObject.operation.kind` for an exec into a container.
KIND_KUBERNETES = "Kubernetes"
KIND_COMMAND = "Command"
OPERATION_POD_EXEC = "PodExec"

# The JSON-typed top-level fields, with the raw casing the sandbox writes.
JSON_CONTAINERS = ("k8s", "host", "kubeObject", "process")

ValueType = Literal["text", "long", "bool", "json"]


@dataclass(frozen=True)
class Field:
    name: str                  # the dotted name used in queries and in ackaudit's output
    value_type: ValueType      # text; long (a JSON number); bool; json (an array or object)
    description: str

    @property
    def container(self) -> str | None:
        """The JSON-typed top-level field this one lives in, or None for a scalar top-level field."""
        head = self.name.split(".", 1)[0]
        return head if "." in self.name else None

    @property
    def path(self) -> tuple[str, ...]:
        """The key path inside `container` (empty for a top-level field)."""
        return tuple(self.name.split(".")[1:])


FIELDS: tuple[Field, ...] = (
    Field("kind", "text", "event type: Kubernetes (an exec into a container) or Command (a process run)"),
    Field("clusterid", "text", "ACK cluster id"),
    Field("time", "text", "event time, ISO 8601 UTC with fractional seconds"),
    Field("traceId", "text", "one exec session: shared by its PodExec event and every command run in it"),
    Field("eventId", "text", "one event"),
    Field("k8s.user.username", "text", "Kubernetes user name (a RAM user's numeric UID, or a service account)"),
    Field("k8s.user.aliuid", "text", "Alibaba Cloud UID of the operator; empty for service accounts"),
    Field("k8s.user.groups", "json", "Kubernetes groups of the operator (array)"),
    Field("k8s.pod.namespace", "text", "pod namespace"),
    Field("k8s.pod.name", "text", "pod name"),
    Field("k8s.pod.labels", "json", "pod labels (object)"),
    Field("k8s.container.name", "text", "container the process ran in (Command events)"),
    Field("k8s.container.image", "text", "image of that container (Command events)"),
    Field("host.hostip", "text", "node IP"),
    Field("host.nodename", "text", "node name"),
    Field("kubeObject.operation.kind", "text", "Kubernetes operation (PodExec)"),
    Field("kubeObject.operation.podExecOptions.container", "text", "container named in the exec request"),
    Field("kubeObject.operation.podExecOptions.command", "json", "exec command (array)"),
    Field("kubeObject.operation.podExecOptions.commandStr", "text", "exec command as one string"),
    Field("kubeObject.operation.podExecOptions.stdin", "bool", "whether the exec attached stdin"),
    Field("kubeObject.operation.podExecOptions.tty", "bool", "whether the exec allocated a TTY"),
    Field("process.name", "text", "executable name"),
    Field("process.cmdline", "text", "command line: the executable name and its arguments"),
    Field("process.cwd", "text", "working directory"),
    Field("process.pid", "long", "process id"),
    Field("process.parentPid", "long", "parent process id"),
    Field("process.parentName", "text", "parent process name"),
    Field("process.user.uid", "long", "user id inside the container"),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
_BY_LOWER_NAME = {f.name.lower(): f for f in FIELDS}
# Per field, what flatten_event needs (worked out once: it runs for every row of an export).
_PLAN = tuple((f, f.name.lower(), f.container.lower() if f.container else None, f.path) for f in FIELDS)


def field(name: str) -> Field:
    """The field called `name`, in any casing (KeyError if there is none)."""
    return _BY_LOWER_NAME[name.lower()]


def flatten_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One audit row as a flat dict keyed by the dotted names of `FIELDS`, in that order.

    `raw` is a row as GetLogs returns it (JSON fields as JSON text, every value a string), or one
    already flat (SQL results name columns `k8s.pod.name`, often lower-cased). Missing fields are
    left out; `__time__` is kept as an int. Numbers become ints and JSON arrays/objects are decoded.
    """
    top = {str(k).lower(): v for k, v in raw.items()}
    decoded = {c.lower(): _as_object(top.get(c.lower())) for c in JSON_CONTAINERS}
    out: dict[str, Any] = {}
    if top.get("__time__") not in (None, ""):
        out["__time__"] = int(float(top["__time__"]))
    for f, lowered, container, path in _PLAN:
        if lowered in top:                           # a flat column (SQL result) wins
            value = top[lowered]
        elif container is None:
            continue
        else:
            value = _lookup(decoded[container], path)
            if value is _MISSING:
                continue
        out[f.name] = _typed(f, value)
    return out


_MISSING = object()


def _as_object(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (str, bytes)) and value:
        try:
            decoded = json.loads(value)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _lookup(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Follow `path` through nested objects, matching each key case-insensitively."""
    current: Any = obj
    for key in path:
        if not isinstance(current, dict):
            return _MISSING
        if key in current:
            current = current[key]
            continue
        matches = [v for k, v in current.items() if str(k).lower() == key.lower()]
        if not matches:
            return _MISSING
        current = matches[0]
    return current


def text_value(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def long_value(value: Any) -> Any:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def bool_value(value: Any) -> Any:
    if value is None:
        return None
    return value if isinstance(value, bool) else str(value).lower() == "true"


def json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# A field's value as flatten_event gives it, by the field's value type (None stays None).
TYPED_VALUE = {"text": text_value, "long": long_value, "bool": bool_value, "json": json_value}


def _typed(f: Field, value: Any) -> Any:
    return TYPED_VALUE[f.value_type](value)
