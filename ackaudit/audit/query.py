"""Building SLS search expressions from user filters, safely.

Every user value goes through `quote()`: it becomes a double-quoted phrase in which `*`, `?`, `and`,
`or`, `not`, `|` and `:` are literal, with `"` and `\\` escaped, so a value can only ever match
literally and never change the query's structure (a pod named `x" or *` matches nothing). SLS
matches a quoted value as a phrase of tokens: exact for pod, namespace, container and program names,
which contain no token delimiters; "contains" for images (`nginx:1.25` matches
`registry/library/nginx:1.25`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ackaudit.engine.search import quote_value, split_query
from ackaudit.errors import UsageError

KINDS = ("exec", "command", "all")
EXEC_EVENTS = "(kind: Kubernetes and kubeObject.operation.kind: PodExec)"
COMMAND_EVENTS = "kind: Command"


# One definition of the syntax: the embedded engine's, which parses what this builds.
quote = quote_value


def term(key: str, value: str) -> str:
    return f"{key}: {quote(value)}"


def any_of(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else "(" + " or ".join(terms) + ")"


@dataclass
class Filters:
    namespace: str | None = None
    pod: str | None = None
    processes: list[str] = field(default_factory=list)
    user: str | None = None
    container: str | None = None
    node: str | None = None
    image: str | None = None
    kind: str = "all"
    risky_programs: list[str] | None = None     # names; None = not filtering on risk
    trace_id: str | None = None
    event_id: str | None = None
    where: str | None = None


def parse_pod(pod: str | None, namespace: str | None) -> tuple[str | None, str | None]:
    """`--pod ns/name`, or `--namespace ns --pod name`: (namespace, pod)."""
    if pod is None:
        return namespace, None
    if "/" in pod:
        ns, _, name = pod.partition("/")
        if not ns or not name or "/" in name:
            raise UsageError(f"--pod {pod!r} is not namespace/name")
        if namespace is not None and namespace != ns:
            raise UsageError(f"--pod {pod!r} and --namespace {namespace!r} disagree")
        return ns, name
    return namespace, pod


def build_search(f: Filters) -> str:
    if f.kind not in KINDS:
        raise UsageError(f"--kind {f.kind!r}: choose one of {', '.join(KINDS)}")
    parts: list[str] = []
    if f.risky_programs is not None or f.processes or f.kind == "command":
        parts.append(COMMAND_EVENTS)
        if f.kind == "exec":
            raise UsageError("--process and --risky select commands; they cannot be combined with --kind exec")
    elif f.kind == "exec":
        parts.append(EXEC_EVENTS)
    else:
        parts.append(f"({COMMAND_EVENTS} or {EXEC_EVENTS})")
    if f.namespace:
        parts.append(term("k8s.pod.namespace", f.namespace))
    if f.pod:
        parts.append(term("k8s.pod.name", f.pod))
    if f.processes:
        parts.append(any_of([term("process.name", p) for p in f.processes]))
    if f.risky_programs is not None:
        if not f.risky_programs:
            raise UsageError("the risky-program list is empty")
        parts.append(any_of([term("process.name", p) for p in sorted(set(f.risky_programs))]))
    if f.user:
        parts.append(any_of([term("k8s.user.username", f.user), term("k8s.user.aliuid", f.user)]))
    if f.container:
        parts.append(any_of([term("k8s.container.name", f.container),
                             term("kubeObject.operation.podExecOptions.container", f.container)]))
    if f.node:
        parts.append(term("host.nodename", f.node))
    if f.image:
        parts.append(term("k8s.container.image", f.image))
    if f.trace_id:
        parts.append(term("traceId", f.trace_id))
    if f.event_id:
        parts.append(term("eventId", f.event_id))
    if f.where:
        parts.append(f"({_checked_where(f.where)})")
    return " and ".join(parts)


def _checked_where(expr: str) -> str:
    """--where is a search expression only: an SQL part would turn the query into statistics."""
    if not expr.strip():
        raise UsageError("--where is empty")
    _, sql = split_query(expr)
    if sql or expr.rstrip().endswith("|"):
        raise UsageError("--where takes a search expression; an SQL part (after |) is not allowed")
    return expr.strip()
