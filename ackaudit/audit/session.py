"""One exec session (one `traceId`) rebuilt from its audit events: who entered which container, when,
every command they ran in order, the process tree, and what was risky.

`SessionView.to_json()` is a documented contract (scripts read it). Its keys:
- `trace_id`, `cluster_id`, `username`, `aliuid`, `groups` (list), `namespace`, `pod`, `container`,
  `node`, `host_ip`, `exec_command`: where and by whom (from the PodExec event, else the commands);
- `started`, `ended` (ISO 8601 UTC, milliseconds, or null), `duration_seconds` (number or null),
  `has_exec_event` (false when only commands were found: the exec happened before the window);
- `counts`: `commands`, `risky`, `programs` (distinct program names);
- `commands` and `risky`: rows keyed like audit events (`time`, `eventId`, `process.pid`,
  `process.parentPid`, `process.name`, `process.cmdline`, `process.cwd`, `process.user.uid`,
  `k8s.container.name`) plus `risk` (`{name, category, reason}` or null);
- `tree`: nodes `{eventId, pid, name, cmdline, time, risk, children}`.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ackaudit.audit.escape import longest_backtick_run, md_code, md_text, visible
from ackaudit.audit.fields import KIND_COMMAND, KIND_KUBERNETES, OPERATION_POD_EXEC
from ackaudit.audit.redact import redact_text
from ackaudit.audit.risky import RiskyProgram, exec_argv, program_name, risk_of

# Parents of the process `kubectl exec` starts: the container runtime, never part of the session.
_RUNTIME_PARENTS = re.compile(r"^(?:containerd-shim|runc|conmon|crun)")
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})
_DOWNLOADERS = frozenset({"curl", "wget"})
# `curl ... | sh` starts both within milliseconds; nobody types a shell that fast after a download.
_PIPE_GAP_SECONDS = 1.0
_YEAR_10000 = 253402300800      # epoch seconds beyond what datetime can show
_PIPED_SCRIPT = ("remote-code-execution", "Runs a script piped straight from a download (curl | sh): code nobody "
                "reviewed, fetched at run time.")


@dataclass
class CommandView:
    time: str
    epoch: float
    event_id: str
    pid: int | None
    parent_pid: int | None
    name: str
    cmdline: str
    cwd: str
    uid: str | None
    container: str
    risk: RiskyProgram | None


@dataclass
class TreeNode:
    pid: int | None
    name: str
    cmdline: str
    time: str
    risk: RiskyProgram | None
    children: list[TreeNode] = field(default_factory=list)
    event_id: str = ""


@dataclass
class SessionView:
    trace_id: str
    username: str
    aliuid: str
    groups: list[str]
    cluster_id: str
    namespace: str
    pod: str
    container: str
    node: str
    host_ip: str
    exec_command: str
    started: str | None
    ended: str | None
    duration_seconds: float | None
    commands: list[CommandView]
    tree: list[TreeNode]
    risky: list[CommandView]
    counts: dict[str, int]
    has_exec_event: bool

    def to_json(self) -> dict[str, Any]:
        """The session as plain JSON data (see the module docstring for the keys)."""
        return {
            "trace_id": self.trace_id, "cluster_id": self.cluster_id, "username": self.username,
            "aliuid": self.aliuid, "groups": list(self.groups), "namespace": self.namespace, "pod": self.pod,
            "container": self.container, "node": self.node, "host_ip": self.host_ip,
            "exec_command": self.exec_command, "started": self.started, "ended": self.ended,
            "duration_seconds": self.duration_seconds, "has_exec_event": self.has_exec_event,
            "counts": dict(self.counts),
            "commands": [_command_json(c) for c in self.commands],
            "risky": [_command_json(c) for c in self.risky],
            "tree": _tree_json(self.tree),
        }


def _risk_json(risk: RiskyProgram | None) -> dict[str, str] | None:
    return None if risk is None else {"name": risk.name, "category": risk.category, "reason": risk.reason}


def _command_json(command: CommandView) -> dict[str, Any]:
    return {"time": command.time, "eventId": command.event_id, "process.pid": command.pid,
            "process.parentPid": command.parent_pid, "process.name": command.name,
            "process.cmdline": command.cmdline, "process.cwd": command.cwd, "process.user.uid": command.uid,
            "k8s.container.name": command.container, "risk": _risk_json(command.risk)}


def _tree_json(tree: list[TreeNode]) -> list[dict[str, Any]]:
    # Iterative, so that a pathologically deep tree cannot exhaust the recursion limit.
    out: list[dict[str, Any]] = []
    stack = [(node, out) for node in reversed(tree)]
    while stack:
        node, siblings = stack.pop()
        data = {"eventId": node.event_id, "pid": node.pid, "name": node.name, "cmdline": node.cmdline,
                "time": node.time, "risk": _risk_json(node.risk), "children": []}
        siblings.append(data)
        stack.extend((child, data["children"]) for child in reversed(node.children))
    return out


def build_session(events: list[dict[str, Any]], catalogue: dict[str, RiskyProgram]) -> SessionView:
    """The session told by `events` (flat events of one traceId, any order, duplicates allowed)."""
    unique = _deduplicated(events)
    execs = sorted((e for e in unique if _is_pod_exec(e)), key=_order_key)
    exec_event = execs[0] if execs else None
    raw_commands = _in_session_order([e for e in unique if e.get("kind") == KIND_COMMAND])
    commands = [_command_view(e, catalogue) for e in raw_commands]
    parents = _parents(commands, raw_commands, exec_event)
    _flag_piped_scripts(commands, parents)
    tree = _tree(commands, parents)
    risky = [c for c in commands if c.risk is not None]
    epochs = [t for t in (_epoch(e) for e in [*execs, *raw_commands]) if t is not None]
    started, ended = (min(epochs), max(epochs)) if epochs else (None, None)
    ordered = [e for e in [exec_event, *raw_commands] if e is not None]
    groups = next((e["k8s.user.groups"] for e in ordered if isinstance(e.get("k8s.user.groups"), list)), [])
    return SessionView(
        trace_id=_first(ordered, "traceId"), username=_first(ordered, "k8s.user.username"),
        aliuid=_first(ordered, "k8s.user.aliuid"), groups=[str(g) for g in groups],
        cluster_id=_first(ordered, "clusterid"), namespace=_first(ordered, "k8s.pod.namespace"),
        pod=_first(ordered, "k8s.pod.name"),
        container=_first(ordered, "kubeObject.operation.podExecOptions.container", "k8s.container.name"),
        node=_first(ordered, "host.nodename"), host_ip=_first(ordered, "host.hostip"),
        exec_command=_exec_command(exec_event) if exec_event else "",
        started=_iso_ms(started) if started is not None else None,
        ended=_iso_ms(ended) if ended is not None else None,
        duration_seconds=round(ended - started, 3) if started is not None and ended is not None else None,
        commands=commands, tree=tree, risky=risky,
        counts={"commands": len(commands), "risky": len(risky), "programs": len({c.name for c in commands})},
        has_exec_event=exec_event is not None,
    )


def _is_pod_exec(event: dict[str, Any]) -> bool:
    return event.get("kind") == KIND_KUBERNETES and event.get("kubeObject.operation.kind") == OPERATION_POD_EXEC


def _deduplicated(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One event per eventId (an event without one is kept unless it is an exact copy)."""
    seen: set[str] = set()
    unique = []
    for event in events:
        key = str(event.get("eventId") or "") or json.dumps(event, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique


def _epoch(event: dict[str, Any]) -> float | None:
    """The event's time in epoch seconds: its ISO `time` (microseconds kept), else `__time__`."""
    text = event.get("time")
    if isinstance(text, str) and text:
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            stamp = None
        if stamp is not None:
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()
    seconds = event.get("__time__")
    in_range = isinstance(seconds, (int, float)) and 0 <= seconds < _YEAR_10000
    return float(seconds) if in_range else None


def _iso_ms(epoch: float) -> str:
    stamp = datetime.fromtimestamp(epoch, timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _order_key(event: dict[str, Any]) -> tuple[bool, float, int, str]:
    epoch = _epoch(event)
    pid = _int_or_none(event.get("process.pid"))
    return epoch is None, epoch or 0.0, pid if pid is not None else -1, str(event.get("eventId") or "")


def _in_session_order(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By time, then pid. A program that execs another (`nsenter ... sh`) keeps its pid and time:
    of two such events the one naming the other in its arguments came first."""
    keys = [_order_key(event) for event in commands]
    same_moment: dict[tuple[bool, float, int], list[int]] = {}
    for index, key in enumerate(keys):
        same_moment.setdefault(key[:3], []).append(index)

    def exec_rank(index: int) -> int:
        if len(same_moment[keys[index][:3]]) == 1:
            return 1
        arguments = _argument_names(str(commands[index].get("process.cmdline") or ""))
        others = (program_name(commands[i]) for i in same_moment[keys[index][:3]] if i != index)
        return 0 if any(name in arguments for name in others) else 1

    order = sorted(range(len(commands)), key=lambda i: (*keys[i][:3], exec_rank(i), keys[i][3]))
    return [commands[i] for i in order]


def _command_view(event: dict[str, Any], catalogue: dict[str, RiskyProgram]) -> CommandView:
    epoch = _epoch(event)
    uid = event.get("process.user.uid")
    return CommandView(
        time=_iso_ms(epoch) if epoch is not None else str(event.get("time") or ""),
        epoch=epoch if epoch is not None else 0.0, event_id=str(event.get("eventId") or ""),
        pid=_int_or_none(event.get("process.pid")), parent_pid=_int_or_none(event.get("process.parentPid")),
        name=program_name(event), cmdline=str(event.get("process.cmdline") or ""),
        cwd=str(event.get("process.cwd") or ""), uid=None if uid is None else str(uid),
        container=str(event.get("k8s.container.name") or ""), risk=risk_of(event, catalogue),
    )


def _parents(commands: list[CommandView], raw: list[dict[str, Any]],
             exec_event: dict[str, Any] | None) -> list[int | None]:
    """For each command (in session order) the index of its parent, or None at the top.

    A parent is the latest earlier command holding the parent pid, so a reused pid points at the
    right process and no command can be its own ancestor (every edge points back in the order).
    A command that took over the pid of one naming it in its arguments was exec'd by it (`nsenter
    ... sh`): it hangs under that one. Any other command with a known pid is a new process (pids
    get reused in long sessions). Commands whose parent is not in the session hang
    under the process `kubectl exec` started, when it is there.
    """
    holder: dict[int, int] = {}
    parents: list[int | None] = []
    for index, command in enumerate(commands):
        previous = holder.get(command.pid) if command.pid is not None else None
        if previous is not None and _execs(commands[previous], command):
            parents.append(previous)
        elif command.parent_pid is not None and command.parent_pid != command.pid and command.parent_pid in holder:
            parents.append(holder[command.parent_pid])
        else:
            parents.append(None)
        if command.pid is not None:
            holder[command.pid] = index
    root = _exec_root(commands, raw, parents, exec_event)
    if root is not None:
        parents = [root if parent is None and index != root else parent for index, parent in enumerate(parents)]
    return parents


def _execs(first: CommandView, then: CommandView) -> bool:
    """Whether `then` is `first` having exec'd another program: same pid and parent, and `first`
    names the program in its arguments."""
    return (first.pid == then.pid and first.parent_pid == then.parent_pid
            and then.name in _argument_names(first.cmdline))


def _argument_names(cmdline: str) -> set[str]:
    return {posixpath.basename(word) for word in cmdline.split()[1:]}


def _exec_root(commands: list[CommandView], raw: list[dict[str, Any]], parents: list[int | None],
               exec_event: dict[str, Any] | None) -> int | None:
    """The index of the process `kubectl exec` started: the first top-level command that runs the
    exec command or whose parent is the container runtime."""
    argv = exec_argv(exec_event) if exec_event else []
    exec_name = posixpath.basename(argv[0]) if argv else ""
    for index, command in enumerate(commands):
        if parents[index] is not None:
            continue
        parent_name = str(raw[index].get("process.parentName") or "")
        if (exec_name and command.name == exec_name) or _RUNTIME_PARENTS.match(parent_name):
            return index
    return None


def _tree(commands: list[CommandView], parents: list[int | None]) -> list[TreeNode]:
    """The top-level nodes of the process tree."""
    nodes = [TreeNode(c.pid, c.name, c.cmdline, c.time, c.risk, [], c.event_id) for c in commands]
    top: list[TreeNode] = []
    for node, parent in zip(nodes, parents, strict=True):
        (top if parent is None else nodes[parent].children).append(node)
    return top


def _flag_piped_scripts(commands: list[CommandView], parents: list[int | None]) -> None:
    """Mark a shell reading its script from a pipe right after a download (`curl ... | sh`): the two
    are siblings started within a moment of each other, and the shell has no script argument."""
    latest_child: dict[int | None, int] = {}
    for index, parent in enumerate(parents):
        before = latest_child.get(parent)
        latest_child[parent] = index
        if before is None:
            continue
        shell, download = commands[index], commands[before]
        if (shell.risk is None and shell.name in _SHELLS and download.name in _DOWNLOADERS
                and all(word.startswith("-") for word in shell.cmdline.split()[1:])
                and 0 <= shell.epoch - download.epoch <= _PIPE_GAP_SECONDS):
            shell.risk = RiskyProgram(shell.name, *_PIPED_SCRIPT)


def redacted(view: SessionView) -> SessionView:
    """`view` with secrets masked in its command lines. Risk, order and the tree are decided on the
    recorded commands first (`build_session` on unredacted events), so a mask never hides a risk."""
    masked = {id(c): replace(c, cmdline=redact_text(c.cmdline)) for c in view.commands}
    tree = [replace(n, cmdline=redact_text(n.cmdline)) for n in view.tree]
    stack = list(tree)
    while stack:                       # iteratively: a fork bomb's tree is deep; `replace` copies shallowly,
        node = stack.pop()             # so each copy gets a new list of copied children
        node.children = [replace(c, cmdline=redact_text(c.cmdline)) for c in node.children]
        stack.extend(node.children)
    return replace(view, exec_command=redact_text(view.exec_command), tree=tree,
                   commands=[masked[id(c)] for c in view.commands],
                   risky=[masked[id(c)] for c in view.risky])          # risky is a subset of commands


def _exec_command(exec_event: dict[str, Any]) -> str:
    text = exec_event.get("kubeObject.operation.podExecOptions.commandStr")
    return text if isinstance(text, str) and text else " ".join(exec_argv(exec_event))


def _first(events: list[dict[str, Any]], *names: str) -> str:
    """The first non-empty value of the first field in `names` that any event has."""
    for name in names:
        for event in events:
            value = event.get(name)
            if value not in (None, ""):
                return str(value)
    return ""


def tree_lines(tree: list[TreeNode]) -> list[tuple[str, TreeNode]]:
    """The tree in display order, each node with its drawing prefix ("├─ ", "│  └─ ", ...)."""
    lines: list[tuple[str, TreeNode]] = []
    stack: list[tuple[TreeNode, str, str]] = [(node, "", "") for node in reversed(tree)]
    while stack:
        node, prefix, children_prefix = stack.pop()
        lines.append((prefix, node))
        last = len(node.children) - 1
        for position in range(last, -1, -1):
            connector, continuation = ("└─ ", "   ") if position == last else ("├─ ", "│  ")
            stack.append((node.children[position], children_prefix + connector, children_prefix + continuation))
    return lines


def to_markdown(view: SessionView, *, redact: bool = True) -> str:
    """A report of the session to paste into an incident ticket."""
    show = redact_text if redact else str
    title = f"# Exec session {_code(view.trace_id)}" if view.trace_id else "# Exec session"
    if not view.commands and not view.has_exec_event:
        return f"{title}\n\nNo audit events were found for this session.\n"
    parts = [title, ""]
    if not view.has_exec_event:
        parts += ["> The `kubectl exec` event that opened this session was not found: it happened before the "
                  "time window searched, so the session may have started earlier.", ""]
    parts += _summary(view, show)
    parts += ["", "## Risky commands", ""]
    if view.risky:
        parts += ["| Time | Program | Category | Command line | Why |", "|---|---|---|---|---|"]
        parts += [f"| {_text(c.time)} | {_text(c.name)} | {_text(c.risk.category)} | {_code(show(c.cmdline))} | "
                  f"{_text(c.risk.reason)} |" for c in view.risky if c.risk is not None]
    else:
        parts.append("None.")
    parts += ["", "## Timeline", ""]
    if view.commands:
        parts += ["| Time | PID | Parent | UID | Directory | Command line | Risk |", "|---|---|---|---|---|---|---|"]
        parts += [f"| {_text(c.time)} | {_number(c.pid)} | {_number(c.parent_pid)} | {_text(c.uid or '')} | "
                  f"{_code(c.cwd)} | {_code(show(c.cmdline))} | {_text(c.risk.category if c.risk else '')} |"
                  for c in view.commands]
    else:
        parts.append("No commands were recorded after the exec.")
    if view.tree:
        tree_text = "\n".join(f"{prefix}{visible(show(node.cmdline or node.name))}"
                              + (f"   <- {node.risk.category}" if node.risk else "")
                              for prefix, node in tree_lines(view.tree))
        fence = "`" * max(3, _longest_backtick_run(tree_text) + 1)
        parts += ["", "## Process tree", "", f"{fence}text", tree_text, fence]
    return "\n".join(parts) + "\n"


def _summary(view: SessionView, show: Callable[[str], str]) -> list[str]:
    who = view.username + (f" (Alibaba Cloud UID {view.aliuid})" if view.aliuid and view.aliuid != view.username
                           else "")
    where = f"{view.namespace}/{view.pod}" if view.namespace else view.pod
    node = view.node + (f" ({view.host_ip})" if view.host_ip else "")
    rows = [
        ("User", _text(who)), ("Groups", _text(", ".join(view.groups))), ("Cluster", _text(view.cluster_id)),
        ("Pod", _text(where)), ("Container", _text(view.container)), ("Node", _text(node)),
        ("Exec command", _code(show(view.exec_command))), ("Started", _text(view.started or "")),
        ("Ended", _text(view.ended or "")),
        ("Duration", _duration(view.duration_seconds) if view.duration_seconds is not None else ""),
        ("Commands", f"{view.counts['commands']} ({view.counts['programs']} distinct programs)"),
        ("Risky commands", str(view.counts["risky"])),
    ]
    return ["| | |", "|---|---|", *(f"| **{label}** | {value} |" for label, value in rows)]


def _duration(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


_text = md_text
_code = md_code


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


_longest_backtick_run = longest_backtick_run
