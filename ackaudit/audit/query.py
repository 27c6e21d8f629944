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

from ackaudit.engine.errors import QueryError
from ackaudit.engine.search import And, parse_search, quote_value, split_query
from ackaudit.errors import UsageError, shown

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


_POD_HINT = "use --pod namespace/name (e.g. payments/api-7d9f), or --namespace NS --pod NAME"


def parse_pod(pod: str | None, namespace: str | None) -> tuple[str | None, str | None]:
    """`--pod ns/name`, or `--namespace ns --pod name`: (namespace, pod). A bare name without
    --namespace matches that pod name in every namespace."""
    check_values(("--namespace", namespace))
    if pod is None:
        return namespace, None
    check_values(("--pod", pod))
    if "/" in pod:
        ns, _, name = pod.partition("/")
        if not ns.strip() or not name.strip() or "/" in name:
            raise UsageError(f"--pod {shown(pod)} is not namespace/name", hint=_POD_HINT)
        if namespace is not None and namespace != ns:
            raise UsageError(f"--pod {shown(pod)} and --namespace {shown(namespace)} disagree", hint=_POD_HINT)
        return ns, name
    return namespace, pod


def check_values(*options: tuple[str, str | list[str] | None]) -> None:
    """Refuse an empty filter value: `--pod ''` would otherwise drop the filter and match everything."""
    for option, value in options:
        for item in value if isinstance(value, list) else [value]:
            if item is not None and not item.strip():
                raise UsageError(f"{option} is empty", hint=f"give {option} a value, or leave the option out")


def build_search(f: Filters) -> str:
    check_values(("--namespace", f.namespace), ("--pod", f.pod), ("--process", f.processes), ("--user", f.user),
                 ("--container", f.container), ("--node", f.node), ("--image", f.image),
                 ("--trace", f.trace_id), ("--event", f.event_id), ("--where", f.where))
    if f.kind not in KINDS:
        raise UsageError(f"--kind {shown(f.kind)}: choose one of {', '.join(KINDS)}")
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
    search = " and ".join(parts)
    if f.where is not None:
        search = and_where(search, f.where)
    return search


_WHERE_HINT = 'a search expression such as: process.cwd: "/tmp" and not process.name: ls'


def and_where(search: str, expr: str) -> str:
    """`search and (expr)`, where `expr` is checked on its own first (so a syntax error points into
    the user's own text) and can never change the structure around it: `x) or (*` is refused, and
    the composed query is parsed again to prove it is exactly `search AND expr`."""
    text = expr.strip()
    if not text:
        raise UsageError("--where is empty", hint=_WHERE_HINT)
    _, sql = split_query(text)
    if sql or text.endswith("|"):
        raise UsageError("--where takes a search expression; an SQL part (after |) is not allowed",
                         hint=_WHERE_HINT)
    try:
        own = parse_search(text)
    except QueryError as exc:
        raise UsageError(f"--where {shown(text)}: {exc.message}", hint=_WHERE_HINT) from None
    combined = f"{search} and ({text})"
    try:
        structure_kept = parse_search(combined) == And(parse_search(search), own)
    except QueryError:
        structure_kept = False
    if not structure_kept:
        raise UsageError(f"--where {shown(text)} cannot be combined with the other filters",
                         hint="quote values that contain \\, ( or ) with double quotes")
    return combined
