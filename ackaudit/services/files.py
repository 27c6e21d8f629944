"""Files the user names with `--out` (export, report): one set of rules for every command.

- `-` is stdout. Special files (pipes, character and block devices, sockets, `/dev/stdout`,
  `/dev/fd/N`) are written through, never replaced.
- A regular file is only replaced with `--force`, and then atomically: the output goes to a
  temporary file in the same directory, which is renamed over the target once it is complete. A
  failure or Ctrl-C removes the temporary file, so a partial file is never left behind; one left by
  a process that was killed outright (SIGKILL) is removed by the next write to the same target, on
  the same machine (its name says which process wrote it, and only a dead one's go). Without
  `--force` an existing file is never replaced, even one that appears meanwhile (hard link, not
  rename). A symbolic link is followed: the file it points to is replaced, the link stays.
- Output to a special file is staged in a temporary file too and copied through once complete, so a
  reader never sees a part of it either (unless the copy itself fails).
- `output_target` checks everything it can before any data is fetched: a directory, a missing or
  unwritable directory (by creating and removing a probe file there), an existing file without
  `--force`. A full disk can only show while writing: that fails with the same `cannot write` error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ackaudit.errors import OutputError, StdoutClosed, UsageError, shown_path

STDOUT = "-"
_FD_PATH = re.compile(r"^/(dev/fd|proc/(self|thread-self|\d+)/fd)/(\d+)$")
_STD_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}
# The errors of writing a file (as opposed to reading from the network meanwhile).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES,
                           errno.EPERM, errno.ENXIO})


# Extensions that name a kind of file: a --out named so must be of that kind.
KNOWN_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".parquet", ".md", ".markdown",
                            ".html", ".htm", ".pdf", ".xlsx", ".xls", ".docx", ".doc", ".txt.gz", ".gz", ".zip"})


def check_suffix(name: str, fmt: str, suffixes: Sequence[str]) -> None:
    """Refuse --format FMT with an --out whose extension names another kind of file
    (`--format csv --out a.jsonl`, `--format html --out x.pdf`)."""
    suffix = Path(name).suffix.lower() if name != STDOUT else ""
    if suffix in KNOWN_SUFFIXES and suffix not in suffixes:
        raise UsageError(f"--format {fmt} but --out {shown_path(name)} is named {suffix}",
                         hint=f"name the file {suffixes[0]} (or leave out --format)")


@dataclass(frozen=True)
class Target:
    name: str                  # as the user gave it, for messages
    path: Path | None          # the regular file to create or replace; None for a special file
    special: Path | None = None  # a device, pipe or socket to write through
    fd: int | None = None      # 1 or 2: stdout or stderr, written through
    force: bool = False

    @property
    def to_stdout(self) -> bool:
        return self.fd == 1

    @property
    def is_terminal(self) -> bool:
        if self.fd is not None:
            return os.isatty(self.fd)
        return self.special is not None and self.special.is_char_device() and _isatty(self.special)


def _isatty(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def cannot_write(name: str, reason: str, hint: str | None = None) -> OutputError:
    return OutputError(f"cannot write {shown_path(name)}: {reason}", hint=hint)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def output_target(name: str, *, force: bool, example: str = "audit.jsonl") -> Target:
    """What writing to `name` means, checked now (before any data is fetched)."""
    if name == "":
        raise UsageError("--out '': give a file name, or - for stdout")
    if name == STDOUT:
        return Target(name, None, fd=1)
    absolute = os.path.abspath(name)
    if absolute in _STD_STREAMS:
        return Target(name, None, fd=_STD_STREAMS[absolute])
    fd_path = _FD_PATH.match(absolute)
    if fd_path and int(fd_path.group(3)) in (1, 2) and fd_path.group(2) in (None, "self", "thread-self"):
        return Target(name, None, fd=int(fd_path.group(3)))
    try:
        info = os.stat(name)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise cannot_write(name, _reason(exc)) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise cannot_write(name, "it is a directory", hint=f"give a file name, e.g. {example}")
    if fd_path or (info is not None and not stat.S_ISREG(info.st_mode)):
        if not os.access(name, os.W_OK):
            raise cannot_write(name, "permission denied")
        return Target(name, None, special=Path(name))
    path = Path(os.path.realpath(name))
    if info is not None and not force:
        raise UsageError(f"{shown_path(name)} already exists", hint="pass --force to replace it")
    _probe(name, path.parent)
    return Target(name, path, force=force)


def _probe(name: str, directory: Path) -> None:
    """Create and remove a file where the temporary file will go: the one sure test of writability."""
    if not directory.is_dir():
        reason = "no such directory" if not directory.exists() else "not a directory"
        raise cannot_write(name, f"{shown_path(directory)}: {reason}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".ackaudit-", suffix=".probe", dir=directory)
    except OSError as exc:
        raise cannot_write(name, _reason(exc)) from None
    os.close(fd)
    os.unlink(probe)


@dataclass
class Staging:
    """Where to write the whole output (`path`); `bytes` is set once it is published."""

    path: Path
    bytes: int = 0


@contextlib.contextmanager
def staged(target: Target) -> Iterator[Staging]:
    """Write the whole output to `staging.path` inside the block; when it ends without an error the
    output is published (renamed into place, or copied to the special file); on any error or Ctrl-C
    the temporary file is removed and nothing is published."""
    if target.path is not None:
        remove_stale_parts(target.path)
        part = target.path.with_name(f".{target.path.name}.{_owner()}-{secrets.token_hex(4)}.part")
    else:
        fd, temp = tempfile.mkstemp(prefix="ackaudit-", suffix=".part")
        os.close(fd)
        part = Path(temp)
    staging = Staging(part)
    try:
        try:
            yield staging
        except OSError as exc:
            if exc.errno in _WRITE_ERRNOS:
                raise cannot_write(target.name, _reason(exc)) from None
            raise
        staging.bytes = part.stat().st_size
        _publish(target, part)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


def _host_id() -> str:
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _owner() -> str:
    """Who writes a temporary file: this process and this machine, so a later run can tell that one
    left behind by a process that was killed (SIGKILL leaves no chance to remove it)."""
    return f"{os.getpid()}-{_host_id()}"


def remove_stale_parts(path: Path) -> list[Path]:
    """Remove the temporary files (`.NAME.PID-HOST-RANDOM.part`, and an export's `.part.N` and
    `.part.stage.jsonl` beside it) that a killed process of this machine left for the target `path`;
    those of a live process, of another machine (a shared folder) or of any other name are kept. The
    ones removed."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)-([0-9a-f]{{8}})-[0-9a-f]{{8}}\.part(\.[0-9]+|\.stage\.jsonl)?")
    host, removed = _host_id(), []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if not found or found.group(2) != host or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True              # someone else's process, or a number that is not a pid: leave it
    return True


def write_text(target: Target, text: str) -> int:
    """`text` (UTF-8) to `target`, by the rules above; returns the bytes written."""
    with staged(target) as staging:
        with open(staging.path, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
    return staging.bytes


def _publish(target: Target, part: Path) -> None:
    if target.path is None:
        _copy_through(target, part)
        return
    try:
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        if target.force:
            os.replace(part, target.path)
        else:
            _link_without_replacing(target, part)
    except OSError as exc:
        raise cannot_write(target.name, _reason(exc)) from None


def _link_without_replacing(target: Target, part: Path) -> None:
    assert target.path is not None
    try:
        os.link(part, target.path)      # fails if the target exists: no window between check and write
    except FileExistsError:
        raise UsageError(f"{shown_path(target.name)} already exists", hint="pass --force to replace it") from None
    except OSError:                     # a file system without hard links
        if target.path.exists():
            raise UsageError(f"{shown_path(target.name)} already exists", hint="pass --force to replace it") from None
        os.replace(part, target.path)


def _copy_through(target: Target, part: Path) -> None:
    with open(part, "rb") as source:
        if target.fd is not None:
            stream = sys.stdout if target.fd == 1 else sys.stderr
            stream.flush()
            try:
                shutil.copyfileobj(source, stream.buffer)
                stream.buffer.flush()
            except BrokenPipeError:
                raise StdoutClosed() from None     # the reader has gone: the CLI ends quietly
            except OSError as exc:
                raise cannot_write(target.name, _reason(exc)) from None
            return
        assert target.special is not None
        try:
            with open(target.special, "wb") as sink:
                shutil.copyfileobj(source, sink)
        except OSError as exc:
            raise cannot_write(target.name, _reason(exc)) from None
