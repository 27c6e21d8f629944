"""A tiny POSIX-like shell and a few coreutils over an in-memory filesystem, for sandbox pod exec.

It understands `;`, `&&`, `||`, `|`, newlines, `#` comments, single and double quotes, backslash
escapes, `$VAR`/`${VAR}`/`$?` expansion, and the redirections `>`, `>>`, `2>`, `2>>` and `2>&1`. Builtins (`cd`,
`exit`, `export`) run inside the shell; every other program is a new process, announced through
`spawn` before it runs (that is where the audit agent would see an execve). A program that does
not exist fails with 127 and starts no process, since its exec never succeeds.
"""

from __future__ import annotations

import functools
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

SHELLS = frozenset({"sh", "bash", "ash"})
BUILTINS = frozenset({"cd", "exit", "export"})


@dataclass(frozen=True)
class Proc:
    pid: int
    name: str


# spawn(argv, cwd, parent) -> pid of the new process
Spawn = Callable[[list[str], str, Proc], int]


class FileSystem:
    """Directories and text files; paths are absolute and normalised by the caller (`Shell.path`)."""

    def __init__(self, hostname: str, programs: list[str]) -> None:
        self.dirs = {"/", "/bin", "/dev", "/etc", "/home", "/proc", "/root", "/tmp", "/usr", "/usr/bin",
                     "/usr/local", "/var", "/var/log", "/var/tmp"}
        self.files = {"/etc/hostname": hostname + "\n",
                      "/etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{hostname}\n",
                      "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
                      "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
                      "/root/.profile": "", "/dev/null": ""}
        self.files.update({f"/bin/{p}": "" for p in programs})

    def is_dir(self, path: str) -> bool:
        return path in self.dirs

    def exists(self, path: str) -> bool:
        return path in self.dirs or path in self.files

    def parent_exists(self, path: str) -> bool:
        return posixpath.dirname(path) in self.dirs

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):] for p in (*self.dirs, *self.files) if p.startswith(prefix) and p != prefix}
        return sorted(n for n in names if n and "/" not in n)

    def write(self, path: str, text: str, append: bool = False) -> None:
        if path != "/dev/null":
            self.files[path] = (self.files.get(path, "") if append else "") + text

    def remove(self, path: str) -> None:
        """Remove a file, or a directory with everything below it."""
        prefix = path.rstrip("/") + "/"
        self.files = {p: t for p, t in self.files.items() if p != path and not p.startswith(prefix)}
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)}


@dataclass
class Io:
    """Where a program reads and writes: `out`/`err` receive text as it is produced."""
    out: Callable[[str], None]
    err: Callable[[str], None]
    stdin: Callable[[], str] = field(default=lambda: "")


class ShellExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Shell:
    """One shell process tree inside a container; `run_argv` starts what `kubectl exec` asked for."""

    def __init__(self, fs: FileSystem, *, hostname: str, kernel: str, env: dict[str, str], spawn: Spawn,
                 interactive: bool = False, sleep_cap: float = 2.0, cwd: str = "/") -> None:
        self.fs, self.hostname, self.kernel, self.spawn = fs, hostname, kernel, spawn
        self.env = dict(env)
        self.cwd = cwd
        self.status = 0
        self.interactive = interactive
        self.sleep_cap = sleep_cap
        # The prompts the operator is typing at: a bare `bash` typed interactively nests one.
        self.shells: list[Proc] = []

    # -- entry points ---------------------------------------------------------------------------
    def run_argv(self, argv: list[str], parent: Proc, io: Io) -> int:
        """Start `argv` as a child of `parent` (a shell script, a prompt or a program)."""
        name = posixpath.basename(argv[0])
        if name in SHELLS:
            pid = self.spawn(argv, self.cwd, parent)
            me = Proc(pid, name)
            if "-c" in argv[1:]:
                script_at = argv.index("-c") + 1
                if script_at >= len(argv):
                    io.err(f"{name}: -c: option requires an argument\n")
                    return 2
                return self._run_script(argv[script_at], me, io)
            if self.interactive:
                self.shells.append(me)
                return 0
            # A shell reading an empty stdin exits at once.
            return self._run_script(io.stdin(), me, io)
        return self._run_program(argv, parent, io)

    def run_line(self, line: str, io: Io) -> int:
        """One line typed at the innermost interactive prompt; `exit` leaves that prompt."""
        try:
            return self._run_script(line, self.shells[-1], io, catch_exit=False)
        except ShellExit as done:
            self.shells.pop()
            self.status = done.code
            return done.code

    def prompt(self) -> str:
        shell = self.shells[-1].name if self.shells else "sh"
        if shell == "bash":
            where = "~" if self.cwd == self.env.get("HOME") else self.cwd
            return f"root@{self.hostname}:{where}# "
        return "# "

    # -- parsing and running ------------------------------------------------------------------
    def _run_script(self, script: str, shell: Proc, io: Io, catch_exit: bool = True) -> int:
        try:
            for connector, pipeline in _split(script):
                if (connector == "&&" and self.status != 0) or (connector == "||" and self.status == 0):
                    continue
                self.status = self._run_pipeline(pipeline, shell, io)
        except ShellExit as done:
            if not catch_exit:
                raise
            self.status = done.code
        except SyntaxError as bad:
            io.err(f"{shell.name}: syntax error: {bad}\n")
            self.status = 2
        return self.status

    def _run_pipeline(self, commands: list[str], shell: Proc, io: Io) -> int:
        stdin = io.stdin
        status = 0
        for i, text in enumerate(commands):
            last = i == len(commands) - 1
            captured: list[str] = []
            stage_io = Io(io.out if last else captured.append, io.err, stdin)
            status = self._run_command(text, shell, stage_io)
            stdin = functools.partial("".join, captured)
        return status

    def _run_command(self, text: str, shell: Proc, io: Io) -> int:
        words, redirects = self._words(text)
        if not words:
            return 0
        for target, mode in redirects:
            if mode.startswith("2") and target == "&1":
                io = Io(io.out, io.out, io.stdin)
                continue
            path = self.path(target)
            if self.fs.is_dir(path) or not self.fs.parent_exists(path):
                reason = "Is a directory" if self.fs.is_dir(path) else "Directory nonexistent"
                io.err(f"{shell.name}: cannot create {target}: {reason}\n")
                return 2
            if not mode.endswith(">>"):
                self.fs.write(path, "")
            stream = functools.partial(self.fs.write, path, append=True)
            io = Io(io.out, stream, io.stdin) if mode.startswith("2") else Io(stream, io.err, io.stdin)
        if words[0] in BUILTINS:
            return self._builtin(words, shell, io)
        return self.run_argv(words, shell, io)

    def _words(self, text: str) -> tuple[list[str], list[tuple[str, str]]]:
        words, redirects, pending = [], [], None
        for word, quoted in _tokens(text, self._expand):
            if not quoted and word in _REDIRECTIONS:
                pending = word
            elif pending:
                redirects.append((word, pending))
                pending = None
            else:
                words.append(word)
        if pending:
            raise SyntaxError("redirection without a target")
        return words, redirects

    def _expand(self, name: str) -> str:
        return str(self.status) if name == "?" else self.env.get(name, "")

    def _builtin(self, words: list[str], shell: Proc, io: Io) -> int:
        if words[0] == "exit":
            raise ShellExit(int(words[1]) if len(words) > 1 and words[1].isdigit() else self.status)
        if words[0] == "export":
            for assignment in words[1:]:
                key, _, value = assignment.partition("=")
                self.env[key] = value
            return 0
        target = self.path(words[1] if len(words) > 1 else self.env.get("HOME", "/"))
        if not self.fs.is_dir(target):
            io.err(f"{shell.name}: cd: {words[1]}: No such file or directory\n")
            return 1 if shell.name == "bash" else 2
        self.cwd = self.env["PWD"] = target
        return 0

    def _run_program(self, argv: list[str], parent: Proc, io: Io) -> int:
        name = posixpath.basename(argv[0])
        program = _PROGRAMS.get(name)
        if program is None:
            io.err(f"bash: {name}: command not found\n" if parent.name == "bash" else f"sh: 1: {name}: not found\n")
            return 127
        self.spawn(argv, self.cwd, parent)
        return program(self, argv[1:], io)

    def path(self, raw: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, raw)).replace("//", "/")


# -- syntax ---------------------------------------------------------------------------------------
_OPERATORS = re.compile(r"&&|\|\||[;|\n]")


def _split(script: str) -> list[tuple[str, list[str]]]:
    """(connector, pipeline) pairs: the connector (`;`, `&&`, `||`) says when the pipeline runs."""
    out: list[tuple[str, list[str]]] = []
    connector, pipeline, current, quote, i = ";", [], "", None, 0
    while i < len(script):
        ch = script[i]
        if quote:
            current += ch
            if ch == "\\" and quote == '"' and i + 1 < len(script):
                current += script[i + 1]
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            current += ch
        elif ch == "\\" and i + 1 < len(script):
            current += script[i:i + 2]
            i += 1
        elif ch == "#" and (not current or current[-1].isspace()):
            while i < len(script) and script[i] != "\n":
                i += 1
            continue
        elif m := _OPERATORS.match(script, i):
            op = m.group()
            if op == "|":
                if not current.strip():
                    raise SyntaxError("'|' unexpected")
                pipeline.append(current)
            else:
                if current.strip():
                    pipeline.append(current)
                if pipeline:
                    out.append((connector, pipeline))
                elif op in ("&&", "||"):
                    raise SyntaxError(f"{op!r} unexpected")
                connector, pipeline = (op if op in ("&&", "||") else ";"), []
            current = ""
            i = m.end()
            continue
        else:
            current += ch
        i += 1
    if quote:
        raise SyntaxError("unterminated quoted string")
    if current.strip():
        pipeline.append(current)
    if pipeline:
        out.append((connector, pipeline))
    elif connector in ("&&", "||"):
        raise SyntaxError("end of file unexpected")
    return out


_VARIABLE = re.compile(r"\$(\?|\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_REDIRECTIONS = (">", ">>", "2>", "2>>")


def _tokens(text: str, lookup: Callable[[str], str]) -> list[tuple[str, bool]]:
    """The words of one simple command, expanded, each with whether any part was quoted.

    Redirection operators come out as their own unquoted words (`>`, `>>`, `2>`, `2>>`).
    """
    words: list[tuple[str, bool]] = []
    word, quoted, in_word, i = "", False, False, 0

    def variable_at(j: int) -> tuple[str, int] | None:
        m = _VARIABLE.match(text, j)
        return (lookup(m.group(1).strip("{}")), m.end()) if m else None

    while i < len(text):
        ch = text[i]
        if ch.isspace():
            if in_word:
                words.append((word, quoted))
                word, quoted, in_word = "", False, False
            i += 1
        elif ch == "'":
            end = text.index("'", i + 1)
            word, quoted, in_word, i = word + text[i + 1:end], True, True, end + 1
        elif ch == '"':
            quoted, in_word, i = True, True, i + 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"\\$`':
                    word, i = word + text[i + 1], i + 2
                elif text[i] == "$" and (found := variable_at(i)):
                    word, i = word + found[0], found[1]
                else:
                    word, i = word + text[i], i + 1
            i += 1
        elif ch == "\\" and i + 1 < len(text):
            word, in_word, i = word + text[i + 1], True, i + 2
        elif ch == "$" and (found := variable_at(i)):
            word, in_word, i = word + found[0], True, found[1]
        elif ch == ">":
            op = ">>" if text.startswith(">>", i) else ">"
            i += len(op)
            if in_word and word == "2" and not quoted:
                op = "2" + op
            elif in_word:
                words.append((word, quoted))
            word, quoted, in_word = "", False, False
            words.append((op, False))
        else:
            word, in_word, i = word + ch, True, i + 1
    if in_word:
        words.append((word, quoted))
    return words


# -- programs -------------------------------------------------------------------------------------
def _flags(args: list[str]) -> tuple[set[str], list[str]]:
    flags = {c for a in args if a.startswith("-") and len(a) > 1 for c in a[1:]}
    return flags, [a for a in args if not a.startswith("-") or a == "-"]


def _ls(sh: Shell, args: list[str], io: Io) -> int:
    flags, paths = _flags(args)
    status = 0
    for raw in paths or ["."]:
        path = sh.path(raw)
        if not sh.fs.exists(path):
            io.err(f"ls: cannot access '{raw}': No such file or directory\n")
            status = 2
            continue
        names = sh.fs.children(path) if sh.fs.is_dir(path) else [raw]
        if sh.fs.is_dir(path) and "a" in flags:
            names = [".", "..", *names]
        if sh.fs.is_dir(path) and "a" not in flags:
            names = [n for n in names if not n.startswith(".")]
        if len(paths) > 1:
            io.out(f"{raw}:\n")
        if "l" in flags:
            for n in names:
                full = sh.path(posixpath.join(raw, n)) if sh.fs.is_dir(path) else path
                is_dir = sh.fs.is_dir(full)
                size = 4096 if is_dir else len(sh.fs.files.get(full, "").encode())
                kind = "drwxr-xr-x 2" if is_dir else "-rw-r--r-- 1"
                io.out(f"{kind} root root {size:>5} Jan  1 00:00 {n}\n")
        elif names:
            io.out("\n".join(names) + "\n")
    return status


def _cat(sh: Shell, args: list[str], io: Io) -> int:
    _, paths = _flags(args)
    if not paths:
        io.out(io.stdin())
        return 0
    status = 0
    for raw in paths:
        path = sh.path(raw)
        if sh.fs.is_dir(path):
            io.err(f"cat: {raw}: Is a directory\n")
            status = 1
        elif path not in sh.fs.files:
            io.err(f"cat: {raw}: No such file or directory\n")
            status = 1
        else:
            io.out(sh.fs.files[path])
    return status


def _touch(sh: Shell, args: list[str], io: Io) -> int:
    _, paths = _flags(args)
    if not paths:
        io.err("touch: missing file operand\n")
        return 1
    status = 0
    for raw in paths:
        path = sh.path(raw)
        if not sh.fs.parent_exists(path):
            io.err(f"touch: cannot touch '{raw}': No such file or directory\n")
            status = 1
        elif not sh.fs.exists(path):
            sh.fs.write(path, "")
    return status


def _rm(sh: Shell, args: list[str], io: Io) -> int:
    flags, paths = _flags(args)
    if not paths and "f" not in flags:
        io.err("rm: missing operand\n")
        return 1
    status = 0
    for raw in paths:
        path = sh.path(raw)
        if not sh.fs.exists(path):
            if "f" not in flags:
                io.err(f"rm: cannot remove '{raw}': No such file or directory\n")
                status = 1
        elif sh.fs.is_dir(path) and not flags & {"r", "R"}:
            io.err(f"rm: cannot remove '{raw}': Is a directory\n")
            status = 1
        else:
            sh.fs.remove(path)
    return status


def _mkdir(sh: Shell, args: list[str], io: Io) -> int:
    flags, paths = _flags(args)
    status = 0
    for raw in paths:
        path = sh.path(raw)
        if sh.fs.exists(path) and not ("p" in flags and sh.fs.is_dir(path)):
            io.err(f"mkdir: cannot create directory '{raw}': File exists\n")
            status = 1
        elif not sh.fs.parent_exists(path) and "p" not in flags:
            io.err(f"mkdir: cannot create directory '{raw}': No such file or directory\n")
            status = 1
        else:
            while path not in sh.fs.dirs:
                sh.fs.dirs.add(path)
                path = posixpath.dirname(path)
    return status


def _echo(sh: Shell, args: list[str], io: Io) -> int:
    newline = not (args and args[0] == "-n")
    io.out(" ".join(args[0 if newline else 1:]) + ("\n" if newline else ""))
    return 0


def _uname(sh: Shell, args: list[str], io: Io) -> int:
    flags, _ = _flags(args)
    fields = {"s": "Linux", "n": sh.hostname, "r": sh.kernel, "m": "x86_64"}
    chosen = "snrm" if "a" in flags else "".join(f for f in "snrm" if f in flags) or "s"
    io.out(" ".join(fields[f] for f in chosen) + (" GNU/Linux" if "a" in flags else "") + "\n")
    return 0


def _sleep(sh: Shell, args: list[str], io: Io) -> int:
    try:
        seconds = sum(float(a) for a in args)
    except ValueError:
        io.err(f"sleep: invalid time interval '{args[0]}'\n")
        return 1
    # Bounded, so that a forgotten `sleep 3600` cannot hang the sandbox.
    time.sleep(max(0.0, min(seconds, sh.sleep_cap)))
    return 0


def _say(text: Callable[[Shell], str]) -> Callable[[Shell, list[str], Io], int]:
    def program(sh: Shell, args: list[str], io: Io) -> int:
        io.out(text(sh) + "\n")
        return 0
    return program


_PROGRAMS: dict[str, Callable[[Shell, list[str], Io], int]] = {
    "ls": _ls, "cat": _cat, "touch": _touch, "rm": _rm, "mkdir": _mkdir, "echo": _echo,
    "uname": _uname, "sleep": _sleep,
    "id": _say(lambda sh: "uid=0(root) gid=0(root) groups=0(root)"),
    "pwd": _say(lambda sh: sh.cwd),
    "whoami": _say(lambda sh: "root"),
    "hostname": _say(lambda sh: sh.hostname),
    "env": _say(lambda sh: "\n".join(f"{k}={v}" for k, v in sh.env.items())),
    "date": _say(lambda sh: datetime.now(timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")),
    "true": lambda sh, args, io: 0,
    "false": lambda sh, args, io: 1,
}
PROGRAMS = sorted([*_PROGRAMS, *SHELLS])
