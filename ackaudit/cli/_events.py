"""How audit events look in the terminal and in csv; shared by query, session and event."""

from collections.abc import Iterable, Sequence
from typing import Any

from ackaudit.audit.escape import visible
from ackaudit.cli._output import Column

CSV_FIELDS = [
    "time", "kind", "clusterid", "traceId", "eventId", "k8s.user.username", "k8s.user.aliuid",
    "k8s.pod.namespace", "k8s.pod.name", "k8s.container.name", "k8s.container.image", "host.nodename",
    "host.hostip", "kubeObject.operation.kind", "kubeObject.operation.podExecOptions.container",
    "kubeObject.operation.podExecOptions.commandStr",
    "process.name", "process.cmdline", "process.cwd", "process.pid", "process.parentPid", "process.parentName",
    "process.user.uid", "risk",
]

# In display order. `keep` ranks what a narrow terminal leaves out first (the highest); the command
# line is shortened with "…" instead; the mark, the time and the session are always shown whole.
TABLE = [
    Column("mark", "!", style="bold red"),
    Column("when", "TIME (UTC)"),
    Column("session", "SESSION"),
    Column("who", "USER", keep=1),
    Column("where", "POD", keep=2),
    Column("container", "CONTAINER", keep=3),
    Column("what", "COMMAND", elide=True),
    Column("cwd", "CWD", keep=4),
]
MARK_LEGEND = "! marks a risky command: a program on the risky list, or behaviour such as base64 -d or curl | sh"
SHORT_ID = 8          # the shortest session prefix shown, like git's abbreviated hashes
FOLLOW_ID = 12        # --follow cannot know the rows to come: a longer prefix


def short_length(ids: Iterable[str], minimum: int = SHORT_ID) -> int:
    """The shortest prefix length (at least `minimum`) that tells every distinct id apart."""
    distinct = {i for i in ids if i}
    length = minimum
    while length < max((len(i) for i in distinct), default=0):
        if len({i[:length] for i in distinct}) == len(distinct):
            break
        length += 1
    return length


def table_rows(events: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The query table's rows; SESSION is a prefix of the traceId unique among these rows."""
    length = short_length(e.get("traceId") or "" for e in events)
    return [table_row(e, length) for e in events]


def user_of(event: dict[str, Any]) -> str:
    return event.get("k8s.user.username") or event.get("k8s.user.aliuid") or "?"


def command_of(event: dict[str, Any]) -> str:
    if event.get("kind") == "Kubernetes":
        return "exec: " + (event.get("kubeObject.operation.podExecOptions.commandStr") or "")
    return event.get("process.cmdline") or event.get("process.name") or ""


def table_row(event: dict[str, Any], session_length: int = SHORT_ID) -> dict[str, str]:
    time_text = (event.get("time") or "").replace("T", " ")[:19]
    container = event.get("k8s.container.name") or event.get("kubeObject.operation.podExecOptions.container") or ""
    risk = event.get("risk")
    return {
        "when": time_text,
        "session": (event.get("traceId") or "")[:session_length],
        "who": user_of(event),
        "where": f"{event.get('k8s.pod.namespace', '')}/{event.get('k8s.pod.name', '')}",
        "container": container,
        "what": command_of(event),
        "cwd": event.get("process.cwd") or "",
        "mark": "!" if risk else "",
    }


def stream_line(event: dict[str, Any]) -> str:
    """One event as one line, for --follow in a terminal or a pipe."""
    row = table_row(event, FOLLOW_ID)
    risk = event.get("risk")
    mark = f"  [risky: {risk['name']}]" if risk else ""
    return visible(f"{row['when']}  {row['session']}  {row['who']}  {row['where']}  {row['container']}  "
                   f"{row['what']}{mark}")


def csv_row(event: dict[str, Any]) -> dict[str, Any]:
    row = dict(event)
    risk = event.get("risk")
    row["risk"] = risk["name"] if risk else ""
    return row
