"""How audit events look in the terminal and in csv; shared by query, session and event."""

from typing import Any

from ackaudit.cli._output import Column

CSV_FIELDS = [
    "time", "kind", "clusterid", "traceId", "eventId", "k8s.user.username", "k8s.user.aliuid",
    "k8s.pod.namespace", "k8s.pod.name", "k8s.container.name", "k8s.container.image", "host.nodename",
    "host.hostip", "kubeObject.operation.podExecOptions.container", "kubeObject.operation.podExecOptions.commandStr",
    "process.name", "process.cmdline", "process.cwd", "process.pid", "process.parentPid", "process.parentName",
    "process.user.uid", "risk",
]

TABLE = [
    Column("mark", "!", style="bold red", no_wrap=True),
    Column("when", "TIME (UTC)", no_wrap=True),
    Column("who", "USER", max_width=22),
    Column("where", "POD", max_width=40),
    Column("container", "CONTAINER", max_width=24),
    Column("what", "COMMAND", max_width=90, min_width=30),
    Column("cwd", "CWD", max_width=28),
]
# On a terminal narrower than this, CONTAINER and CWD give their room to the command line.
WIDE = 160


def table_columns(width: int | None) -> list[Column]:
    if width is not None and width < WIDE:
        return [c for c in TABLE if c.key not in ("container", "cwd")]
    return TABLE


def user_of(event: dict[str, Any]) -> str:
    return event.get("k8s.user.username") or event.get("k8s.user.aliuid") or "?"


def command_of(event: dict[str, Any]) -> str:
    if event.get("kind") == "Kubernetes":
        return "exec: " + (event.get("kubeObject.operation.podExecOptions.commandStr") or "")
    return event.get("process.cmdline") or event.get("process.name") or ""


def table_row(event: dict[str, Any]) -> dict[str, str]:
    time_text = (event.get("time") or "").replace("T", " ")[:19]
    container = event.get("k8s.container.name") or event.get("kubeObject.operation.podExecOptions.container") or ""
    risk = event.get("risk")
    return {
        "when": time_text,
        "who": user_of(event),
        "where": f"{event.get('k8s.pod.namespace', '')}/{event.get('k8s.pod.name', '')}",
        "container": container,
        "what": command_of(event),
        "cwd": event.get("process.cwd") or "",
        "mark": "!" if risk else "",
    }


def stream_line(event: dict[str, Any]) -> str:
    """One event as one line, for --follow in a terminal or a pipe."""
    row = table_row(event)
    risk = event.get("risk")
    mark = f"  [risky: {risk['name']}]" if risk else ""
    return f"{row['when']}  {row['who']}  {row['where']}  {row['container']}  {row['what']}{mark}"


def csv_row(event: dict[str, Any]) -> dict[str, Any]:
    row = dict(event)
    risk = event.get("risk")
    row["risk"] = risk["name"] if risk else ""
    return row
