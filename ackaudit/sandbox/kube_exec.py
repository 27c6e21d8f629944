"""Pod exec over WebSocket (v4/v5.channel.k8s.io), running the tiny shell and auditing what it runs.

Channels: 0 stdin, 1 stdout, 2 stderr, 3 the final status, 4 resize (ignored), 255 close (v5).
Every process the session starts is recorded through `SessionRecorder` with host-like pids: the
exec'd program is a child of `runc`, and programs started by a shell are children of that shell.
When the cluster's `ack-advanced-audit` is active and covers the pod's node, the rows go to its
`advaudit-<cluster_id>` logstore: at the end of the exec, and after each line of an interactive
session. A pod's filesystem lives in memory for as long as the sandbox process does.
"""

from __future__ import annotations

import json
import random
import select
import time
import weakref
from typing import Any, BinaryIO

from ackaudit.sandbox import ack_tasks, addons, kube, shell, websocket
from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.kube import KubeError
from ackaudit.sandbox.state import SandboxState

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
_CLOSE_WAIT_SECONDS = 2.0   # how long to wait for the client's reply to our close frame

# state -> {(cluster_id, namespace, pod, container): FileSystem}
_FILESYSTEMS: weakref.WeakKeyDictionary[SandboxState, dict[tuple[str, ...], shell.FileSystem]] = \
    weakref.WeakKeyDictionary()


def start(state: SandboxState, cluster: dict[str, Any], user: dict[str, Any], req: Request,
          namespace: str, name: str) -> Response:
    """Validate an exec request as the apiserver does; the session runs once the socket is upgraded."""
    pod = kube.find_pod(cluster, namespace, name)
    if req.headers.get("upgrade", "").lower() != "websocket":
        raise KubeError(400, "BadRequest", "Upgrade request required")
    command = [value for key, value in req.query if key == "command"]
    if not command:
        raise KubeError(400, "BadRequest", "you must specify at least 1 command")
    container = req.q("container") or pod["containers"][0]["name"]
    if container not in [c["name"] for c in pod["containers"]]:
        raise KubeError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    flags = {f: req.q(f) in ("true", "1") for f in ("stdin", "stdout", "stderr", "tty")}
    if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):
        raise KubeError(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
    if user.get("read_only"):
        raise KubeError(403, "Forbidden", f'pods "{name}" is forbidden: User "{user["username"]}" cannot '
                        f'create resource "pods/exec" in API group "" in the namespace "{namespace}"',
                        {"name": name, "kind": "pods"})
    if kube.pod_problem(cluster, pod) is not None:
        raise KubeError(400, "BadRequest", f'unable to upgrade connection: container not found ("{container}")')
    offered = [p.strip() for p in req.headers.get("sec-websocket-protocol", "").split(",")]
    protocol = V5 if V5 in offered else V4 if V4 in offered else None
    key = req.headers.get("sec-websocket-key")
    if protocol is None or not key:
        raise KubeError(400, "BadRequest", f"exec needs a WebSocket upgrade offering {V5} or {V4}")
    session = ExecSession(state, cluster, pod, container, user, command, flags, protocol, key)
    return Response(101, headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                  "Sec-WebSocket-Accept": websocket.accept_key(key),
                                  "Sec-WebSocket-Protocol": protocol},
                    upgrade=session.run)


class ExecSession:
    """One `kubectl exec`: owns the upgraded connection from the handshake to the close frame."""

    def __init__(self, state: SandboxState, cluster: dict[str, Any], pod: dict[str, Any], container: str,
                 user: dict[str, Any], command: list[str], flags: dict[str, bool], protocol: str,
                 key: str) -> None:
        self.state, self.cluster_id, self.pod, self.container = state, cluster["cluster_id"], pod, container
        self.command, self.flags, self.protocol, self.key = command, flags, protocol, key
        self.recorder = SessionRecorder(cluster, pod, container, user, command, time.time(),
                                        stdin=flags["stdin"], tty=flags["tty"])
        self._flushed = 0
        self._rng = random.Random()
        self._next_pid = self._rng.randint(180_000, 2_400_000)
        self._stdin_buffer, self._stdin_open = "", flags["stdin"]
        node = next((n for n in cluster.get("nodes", []) if n["node_name"] == pod.get("node_name")), {})
        self.kernel = node.get("kernel_version", "")
        self.ws: websocket.WebSocket | None = None

    # -- the session --------------------------------------------------------------------------
    def run(self, reader: BinaryIO, writer: BinaryIO) -> None:
        writer.write(websocket.handshake(self.key, self.protocol))
        writer.flush()
        self.ws = websocket.WebSocket(reader, writer)
        try:
            code = self._execute()
            self._flush()
            if not self.ws.closed:
                self._send_status(code)
                self.ws.close()
                self._wait_for_close_reply(reader)
        except (websocket.ConnectionClosed, OSError):
            self._flush()   # the client went away: what ran is audited all the same

    def _execute(self) -> int:
        runner = shell.Shell(
            self._filesystem(), hostname=self.pod["name"], kernel=self.kernel, env=self._environment(),
            spawn=self._spawn, interactive=self.flags["stdin"],
            sleep_cap=float(self.state.settings.get("exec_sleep_cap", 2.0)))
        io = shell.Io(self._writer(STDOUT), self._writer(STDOUT if self.flags["tty"] else STDERR),
                      self._read_all_stdin)
        runc = shell.Proc(self._allocate_pid(), "runc")
        code = runner.run_argv(self.command, runc, io)
        while runner.shells:   # an interactive prompt: one line at a time until exit or EOF
            self._flush()
            if self.flags["tty"]:
                self._send(STDOUT, runner.prompt())
            line = self._read_line()
            if line is None:
                break
            runner.run_line(line, io)
            code = runner.status
        return code

    def _spawn(self, argv: list[str], cwd: str, parent: shell.Proc) -> int:
        pid = self._allocate_pid()
        self.recorder.command(argv, cwd=cwd, pid=pid, parent_pid=parent.pid, parent_name=parent.name)
        return pid

    def _allocate_pid(self) -> int:
        pid = self._next_pid
        self._next_pid += self._rng.randint(1, 40)
        return pid

    def _environment(self) -> dict[str, str]:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOSTNAME": self.pod["name"], "HOME": "/root", "PWD": "/",
               "KUBERNETES_SERVICE_HOST": "192.168.0.1", "KUBERNETES_SERVICE_PORT": "443"}
        if self.flags["tty"]:
            env["TERM"] = "xterm"
        return env

    def _filesystem(self) -> shell.FileSystem:
        with self.state.lock:
            per_pod = _FILESYSTEMS.setdefault(self.state, {})
            key = (self.cluster_id, self.pod["namespace"], self.pod["name"], self.container)
            if key not in per_pod:
                per_pod[key] = shell.FileSystem(self.pod["name"], shell.PROGRAMS)
            return per_pod[key]

    # -- auditing -----------------------------------------------------------------------------
    def _flush(self) -> None:
        """Ship the rows recorded since the last flush, if the audit agent sees this pod."""
        rows = self.recorder.rows()[self._flushed:]
        self._flushed += len(rows)
        with self.state.lock:
            target = self._audit_target()
            if rows and target is not None:
                self.state.events.append(*target, rows)

    def _audit_target(self) -> tuple[str, str] | None:
        """(project, logstore) the audit agent on the pod's node ships to, or None if none does."""
        cluster = self.state.clusters.get(self.cluster_id)
        if cluster is None or cluster.get("addons", {}).get(addons.AUDIT_ADDON, {}).get("state") != "active":
            return None
        node = next((n for n in cluster.get("nodes", []) if n["node_name"] == self.pod.get("node_name")), None)
        if node is None or not node.get("ready", True):
            return None
        if addons.audit_node_problem(node, cluster["current_version"]) is not None:
            return None
        project = ack_tasks.log_project_of(cluster)
        logstore = ack_tasks.audit_logstore(self.cluster_id)
        if logstore not in self.state.projects.get(project, {}).get("logstores", {}):
            return None
        return project, logstore

    # -- channels -----------------------------------------------------------------------------
    def _send(self, channel: int, text: str) -> None:
        if self.flags["tty"]:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        self.ws.send(bytes([channel]) + text.encode("utf-8"))

    def _writer(self, channel: int):
        wanted = self.flags["stdout"] if channel == STDOUT else self.flags["stderr"]
        return (lambda text: self._send(channel, text)) if wanted else (lambda text: None)

    def _send_status(self, code: int) -> None:
        if code == 0:
            status = {"metadata": {}, "status": "Success"}
        else:
            status = {"metadata": {}, "status": "Failure",
                      "message": f"command terminated with non-zero exit code: exit status {code}",
                      "reason": "NonZeroExitCode",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        self.ws.send(bytes([STATUS]) + json.dumps(status).encode())

    def _receive_stdin(self) -> str | None:
        """The next chunk of stdin, or None at its end (v5 close of channel 0, or the socket closing)."""
        while self._stdin_open:
            try:
                _, payload = self.ws.receive()
            except websocket.ConnectionClosed:
                self._stdin_open = False
                break
            if not payload:
                continue
            channel, data = payload[0], payload[1:]
            if channel == STDIN:
                return data.decode("utf-8", "replace")
            if channel == CLOSE and data[:1] == bytes([STDIN]):
                self._stdin_open = False
        return None

    def _read_all_stdin(self) -> str:
        chunks = [self._stdin_buffer]
        self._stdin_buffer = ""
        while (chunk := self._receive_stdin()) is not None:
            chunks.append(chunk)
        return "".join(chunks)

    def _read_line(self) -> str | None:
        """One line of input; with a terminal, echo what is typed and honour ^C and ^D."""
        while True:
            for i, ch in enumerate(self._stdin_buffer):
                if ch in "\r\n":
                    line, self._stdin_buffer = self._stdin_buffer[:i], self._stdin_buffer[i + 1:]
                    return line
                if self.flags["tty"] and ch == "\x03":
                    self._stdin_buffer = self._stdin_buffer[i + 1:]
                    self._send(STDOUT, "^C\n")
                    return ""
                if self.flags["tty"] and ch == "\x04" and i == 0:
                    return None
            chunk = self._receive_stdin()
            if chunk is None:
                line, self._stdin_buffer = self._stdin_buffer, ""
                return line or None
            if self.flags["tty"]:   # a terminal echoes what is typed
                self._send(STDOUT, chunk.replace("\r", "\n").replace("\x03", "").replace("\x04", ""))
            self._stdin_buffer += chunk

    def _wait_for_close_reply(self, reader: BinaryIO) -> None:
        """Read until the client answers our close frame, for a bounded time."""
        deadline = time.monotonic() + _CLOSE_WAIT_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            if not select.select([reader], [], [], remaining)[0]:
                return
            try:
                self.ws.receive()
            except websocket.ConnectionClosed:
                return
