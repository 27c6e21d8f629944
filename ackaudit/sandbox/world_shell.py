"""Plays scripted exec sessions through a `SessionRecorder`, with a plausible process tree and timing.

A script is a list of shell lines. Each line is what an operator typed at the prompt: `cd` and
`exit` are builtins (no process); `a && b` runs in sequence; `a | b` starts every stage as a child
of the shell; `sudo X` and `su USER -c "X"` start X as a child of sudo/su; `sh -c "..."` runs its
lines as children of that sh; a bare shell (`sh`, `bash`) opens a nested prompt until `exit`;
`nsenter ... sh` execs the shell in place (same pid) and opens a prompt. A `(line, [lines])` item
makes the last process of `line` run the nested lines (e.g. `curl ... | sh` running a script).
Redirections (`> file`, `2>&1`) are dropped: the audit log only sees argv.
"""

from __future__ import annotations

import functools
import posixpath
import random
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from ackaudit.sandbox.events import SessionRecorder

Script = Sequence["str | tuple[str, Script]"]

SHELLS = frozenset({"sh", "bash", "ash", "zsh"})
# Programs an operator keeps open for a while: the next prompt comes after this many seconds.
_LONG_RUNNING = {"tail": (40, 420), "top": (15, 120), "python": (60, 600), "mysql": (30, 300),
                 "psql": (30, 300), "redis-cli": (20, 180), "less": (20, 200), "watch": (30, 240)}
_USER_IDS = {"root": 0, "postgres": 999, "redis": 999, "node": 1000, "app": 1000}


class PidAllocator:
    """Host pids per node, increasing as processes start."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next: dict[str, int] = {}

    def allocate(self, node_name: str) -> int:
        current = self._next.get(node_name) or self._rng.randint(180_000, 2_400_000)
        self._next[node_name] = current + self._rng.randint(1, 40)
        return current


@dataclass
class _Prompt:
    pid: int
    name: str
    cwd: str
    uid: int


@dataclass
class SessionPlayer:
    """Runs one script in one session; `clock` advances with every command."""

    recorder: SessionRecorder
    node_name: str
    pids: PidAllocator
    rng: random.Random
    clock: float
    interactive: bool = True
    _prompts: list[_Prompt] = field(default_factory=list)

    def start(self, exec_command: list[str], *, cwd: str, uid: int) -> None:
        """The process `kubectl exec` starts, as a child of the container's shim."""
        shim_pid = self.pids.allocate(self.node_name)
        self.clock += self.rng.uniform(0.05, 0.4)
        pid = self._record(exec_command, cwd=cwd, parent=_Prompt(shim_pid, "containerd-shim", cwd, uid))
        prompt = _Prompt(pid, posixpath.basename(exec_command[0]), cwd, uid)
        if prompt.name in SHELLS and "-c" in exec_command:
            self._run_lines([exec_command[exec_command.index("-c") + 1]], prompt)
        elif prompt.name in SHELLS:
            self._prompts.append(prompt)

    def play(self, script: Script) -> None:
        """Type `script` at the session's prompt (stops early once the session's shell exits)."""
        for item in script:
            if not self._prompts:
                return
            self.clock += self.rng.uniform(2.0, 22.0) if self.interactive else self.rng.uniform(0.05, 0.6)
            self._run_item(item, self._prompts[-1], typed=self.interactive)

    def _run_lines(self, lines: Script, parent: _Prompt) -> None:
        """Lines a program runs by itself (a script, `sh -c`): no thinking time between them."""
        for item in lines:
            self.clock += self.rng.uniform(0.01, 0.3)
            self._run_item(item, parent, typed=False)

    def _run_item(self, item: str | tuple[str, Script], prompt: _Prompt, *, typed: bool) -> None:
        line, nested = (item, ()) if isinstance(item, str) else item
        last = self._run_line(line, prompt, typed=typed)
        if nested and last is not None:
            self._run_lines(nested, last)

    def _run_line(self, line: str, prompt: _Prompt, *, typed: bool) -> _Prompt | None:
        """Run one line under `prompt`; returns the last process it started."""
        words = line.split()
        if words[0] == "cd":
            prompt.cwd = posixpath.normpath(posixpath.join(prompt.cwd, words[1] if len(words) > 1 else "/root"))
            return None
        if words[0] == "exit":
            if self._prompts and self._prompts[-1] is prompt:
                self._prompts.pop()
            return None
        last = None
        for stages in _parse(line):
            for argv in stages:
                # Only a shell typed on its own opens a new prompt; `... | sh` reads the pipe.
                last = self._run_command(list(argv), prompt, opens_prompt=typed and len(stages) == 1)
                self.clock += self.rng.uniform(0.001, 0.02)
        if typed and last is not None:
            low, high = _LONG_RUNNING.get(last.name, (0, 0))
            self.clock += self.rng.uniform(low, high)
        return last

    def _run_command(self, argv: list[str], parent: _Prompt, *, opens_prompt: bool) -> _Prompt:
        name = posixpath.basename(argv[0])
        if name == "nsenter":
            # nsenter execs its command: same pid, still a child of the prompt's shell.
            pid = self._record(argv, cwd=parent.cwd, parent=parent)
            target = argv[-1]
            self._record([target], cwd="/", parent=parent, pid=pid)
            entered = _Prompt(pid, target, "/", 0)
            if opens_prompt:
                self._prompts.append(entered)
            return entered
        pid = self._record(argv, cwd=parent.cwd, parent=parent)
        process = _Prompt(pid, name, parent.cwd, parent.uid)
        if name == "sudo":
            process.uid = 0
            return self._run_command(argv[1:], process, opens_prompt=opens_prompt)
        if name == "su" and "-c" in argv:
            process.uid = _USER_IDS.get(argv[1], 0)
            self._run_lines([argv[argv.index("-c") + 1]], process)
        elif name in SHELLS and "-c" in argv:
            self._run_lines([argv[argv.index("-c") + 1]], process)
        elif name in SHELLS and opens_prompt:
            self._prompts.append(process)
        return process

    def _record(self, argv: list[str], *, cwd: str, parent: _Prompt, pid: int | None = None) -> int:
        pid = self.pids.allocate(self.node_name) if pid is None else pid
        self.recorder.command(argv, cwd=cwd, pid=pid, parent_pid=parent.pid, parent_name=parent.name,
                              uid=parent.uid, when=self.clock)
        return pid


@functools.lru_cache(maxsize=1024)
def _parse(line: str) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """A line as its `&&`-separated segments, each a pipeline of argvs (scripts repeat: cached)."""
    return tuple(tuple(tuple(_argv(stage)) for stage in _split_unquoted(segment, "|"))
                 for segment in _split_unquoted(line, "&&"))


def _split_unquoted(text: str, separator: str) -> list[str]:
    """`text` split on `separator` wherever it is outside quotes, each part stripped."""
    parts, start, quote, i = [], 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif text.startswith(separator, i):
            parts.append(text[start:i].strip())
            start = i = i + len(separator)
            continue
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _argv(stage: str) -> list[str]:
    words = shlex.split(stage)
    argv: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
        elif word in (">", ">>", "<", "2>"):
            skip_next = True
        elif not (word.startswith(("2>", ">")) and len(word) > 1):
            argv.append(word)
    return argv
