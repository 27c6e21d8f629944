"""`export`'s pipeline: every shard of the logstore read at the same time, each into a part file of
its own, joined in shard order once all are complete.

The order of an export is the shards' order (by shard id), each shard's events in arrival order: the
order a one-shard-after-another read gives, whatever the timing. Shard parts are staged beside the
output's temporary file and removed whatever happens; the output itself is only published by
`services.files.staged` once joined, so an error or Ctrl-C never leaves a partial file.

Shards are read by processes forked for them, at most _READERS at once (threads of this process
where there is no fork): turning rows into lines (`export_plan`) is CPU work, which the threads of
one process would take turns at, and each reader converts its batch while the others' requests are
in flight. A reader has a client of its own and reports progress, then done or its error, on a pipe.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ackaudit.services.export_plan import CsvLines, EventMaker, jsonl_text
from ackaudit.services.files import Target, staged

_READERS = 4                 # shards read at once
_FORK = hasattr(os, "fork")  # readers are processes where they can be, else threads of this one
Progress = Callable[[int, int | None], None]    # (events written, __time__ of the latest one)


class _Lines:
    """Events of one format to text: jsonl lines, csv rows (the header written once, first), or the
    JSON lines parquet is staged as."""

    def __init__(self, fmt: str, csv_columns: Sequence[str]) -> None:
        self._csv = CsvLines(csv_columns) if fmt == "csv" else None

    def header(self) -> str:
        return self._csv.header() if self._csv is not None else ""

    def text(self, events: list[dict[str, Any]]) -> str:
        return self._csv.text(events) if self._csv is not None else jsonl_text(events)


class _Counter:
    """Events written so far, and the __time__ of the latest; progress is told of every thousand."""

    _EVERY = 1000

    def __init__(self) -> None:
        self.written = 0
        self.latest: int | None = None
        self._lock = threading.Lock()
        self._reported = 0

    def report(self, progress: Progress | None) -> None:
        if progress is not None and self.written // self._EVERY > self._reported // self._EVERY:
            self._reported = self.written
            progress(self.written, self.latest)

    def add(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.add_count(len(events), events[-1].get("__time__"))

    def add_count(self, count: int, latest: int | None) -> None:
        with self._lock:
            self.written += count
            self.latest = latest


def _join(fmt: str, staging: Path, parts: Sequence[Path]) -> None:
    """The parts (staging itself holding the first) as one file at `staging`."""
    if fmt == "parquet":
        from ackaudit.services.archive import parquet_from_jsonl

        lines = [p for p in parts if p.stat().st_size > 0]
        if not lines:                                   # no events: an empty stage gives the columns
            lines = [parts[0]]
        final = staging.with_name(staging.name + ".parquet")
        try:
            parquet_from_jsonl(lines, final)
            os.replace(final, staging)
        finally:
            with contextlib.suppress(FileNotFoundError):
                final.unlink()
        return
    out = os.open(staging, os.O_WRONLY)
    try:
        os.lseek(out, 0, os.SEEK_END)
        for part in parts[1:]:
            _append(part, out)
    finally:
        os.close(out)


def _append(source: Path, out: int) -> None:
    """Append the file `source` to the file descriptor `out`: in the kernel where the file system
    allows, else through a buffer."""
    import errno

    fd = os.open(source, os.O_RDONLY)
    try:
        size, offset = os.fstat(fd).st_size, 0
        with contextlib.suppress(AttributeError):        # no copy_file_range on this platform
            try:
                while offset < size:
                    sent = os.copy_file_range(fd, out, size - offset, offset)
                    if sent == 0:
                        break
                    offset += sent
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF):
                    raise
        while offset < size:
            chunk = os.pread(fd, min(1 << 20, size - offset), offset)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
            offset += len(chunk)
    finally:
        os.close(fd)


def export_events(rows: Iterable[dict[str, Any]], target: Target, fmt: str, *, redact: bool,
                  catalogue: dict[str, Any], csv_columns: Sequence[str],
                  progress: Progress | None = None) -> tuple[int, int]:
    """Write `rows` (raw audit rows, already in the window) as flat events; (events, bytes)."""
    with _no_cycle_collection():
        return _export_rows(rows, target, fmt, redact=redact, catalogue=catalogue, csv_columns=csv_columns,
                            progress=progress)


def _export_rows(rows: Iterable[dict[str, Any]], target: Target, fmt: str, *, redact: bool,
                 catalogue: dict[str, Any], csv_columns: Sequence[str],
                 progress: Progress | None) -> tuple[int, int]:
    maker, lines, counter = EventMaker(redact=redact, catalogue=catalogue), _Lines(fmt, csv_columns), _Counter()
    with staged(target) as staging:
        parts = [staging.path if fmt != "parquet" else staging.path.with_name(staging.path.name + ".stage.jsonl")]
        try:
            with open(parts[0], "w", encoding="utf-8", newline="") as out:
                out.write(lines.header())
                try:
                    for row in rows:             # one at a time: none is held once written
                        _write(out, maker, lines, [row], counter, progress)
                except BaseException:
                    if hasattr(rows, "close"):       # stop a reader working ahead
                        rows.close()
                    raise
            if fmt == "parquet":
                _join(fmt, staging.path, parts)
        finally:
            if fmt == "parquet":
                with contextlib.suppress(FileNotFoundError):
                    parts[0].unlink()
    return counter.written, staging.bytes


def _write(out: IO[str], maker: EventMaker, lines: _Lines, rows: list[dict[str, Any]], counter: _Counter,
           progress: Progress | None) -> None:
    events = maker.events(rows)
    out.write(lines.text(events))
    counter.add(events)
    counter.report(progress)


def export_shards(sls: Any, project: str, logstore: str, from_time: int, to_time: int, target: Target,
                  fmt: str, *, now: float, redact: bool, catalogue: dict[str, Any], csv_columns: Sequence[str],
                  progress: Progress | None = None) -> tuple[int, int]:
    """Every event of the window, read from all shards at once, written in shard order; (events, bytes)."""

    shards = sls.shard_ids(project, logstore)
    with _no_cycle_collection():
        return _export_shards(sls, project, logstore, shards, from_time, to_time, target, fmt, now=now,
                              redact=redact, catalogue=catalogue, csv_columns=csv_columns, progress=progress)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """An export makes millions of short-lived dicts and lists and no reference cycles: the cyclic
    collector would only walk them over and over (about a tenth of the time)."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _export_shards(sls: Any, project: str, logstore: str, shards: Sequence[int], from_time: int, to_time: int,
                   target: Target, fmt: str, *, now: float, redact: bool, catalogue: dict[str, Any],
                   csv_columns: Sequence[str], progress: Progress | None) -> tuple[int, int]:
    maker, lines, counter = EventMaker(redact=redact, catalogue=catalogue), _Lines(fmt, csv_columns), _Counter()
    with staged(target) as staging:
        first = staging.path if fmt != "parquet" else staging.path.with_name(staging.path.name + ".stage.jsonl")
        parts = [first, *(staging.path.with_name(f"{staging.path.name}.{n}") for n in range(1, len(shards)))]
        try:
            for index, part in enumerate(parts):        # all there from the start, removed whatever happens
                with open(part, "w", encoding="utf-8", newline="") as out:
                    out.write(lines.header() if index == 0 else "")
            job = _Job(sls, project, logstore, from_time, to_time, now, maker, lines)
            jobs = list(zip(shards, parts, strict=False))
            if len(jobs) > 1 and _FORK:
                _read_in_processes(job, jobs, counter, progress)
            else:
                _read_in_threads(job, jobs, counter, progress)
            _join(fmt, staging.path, parts)
        finally:
            for part in parts[1:] if fmt != "parquet" else parts:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
    return counter.written, staging.bytes


class _Job:
    """What reading one shard into its part file needs."""

    def __init__(self, sls: Any, project: str, logstore: str, from_time: int, to_time: int, now: float,
                 maker: EventMaker, lines: _Lines) -> None:
        self.sls, self.project, self.logstore = sls, project, logstore
        self.from_time, self.to_time, self.now = from_time, to_time, now
        self.maker, self.lines = maker, lines

    def run(self, sls: Any, shard: int, part: Path, done: Callable[[list[dict[str, Any]]], None],
            stop: threading.Event | None = None) -> None:
        from ackaudit.services.archive import shard_batches

        with open(part, "a", encoding="utf-8", newline="") as out:
            for rows in shard_batches(sls, self.project, self.logstore, shard, self.from_time, self.to_time,
                                      now=self.now):
                if stop is not None and stop.is_set():
                    return
                events = self.maker.events(rows)
                out.write(self.lines.text(events))
                done(events)


def _read_in_threads(job: _Job, jobs: list[tuple[int, Path]], counter: _Counter, progress: Progress | None) -> None:
    """The shards read by threads of this process, at most _READERS at once."""
    stop = threading.Event()
    pending = list(jobs)
    errors: list[BaseException] = []
    take = threading.Lock()

    def read() -> None:
        try:
            while not stop.is_set():
                with take:
                    if not pending:
                        return
                    shard, part = pending.pop(0)
                job.run(job.sls, shard, part, counter.add, stop)
        except BaseException as exc:       # handed to the main thread, which raises it
            errors.append(exc)
            stop.set()

    readers = [threading.Thread(target=read, name="ackaudit-export-reader", daemon=True)
               for _ in range(min(_READERS, len(jobs)))]
    for reader in readers:
        reader.start()
    try:
        for reader in readers:
            while reader.is_alive():
                reader.join(0.2)
                counter.report(progress)
    finally:
        stop.set()
    if errors:
        raise errors[0]


# Messages from a shard reader process: a type byte, the payload's length (4 bytes) and the payload.
_PROGRESS, _DONE, _FAILED = b"P", b"D", b"E"


def _read_in_processes(job: _Job, jobs: list[tuple[int, Path]], counter: _Counter,
                       progress: Progress | None) -> None:
    """The shards read by processes forked from this one, at most _READERS at once: the conversion is
    CPU work, and threads of one process would take turns at it. Each process reads one shard into its
    part file with a client of its own and reports on a pipe: progress, then done or its error (which
    is raised here). An error or Ctrl-C here ends every reader still running."""
    import select

    pending = list(jobs)
    running: dict[int, _Reader] = {}
    error: BaseException | None = None
    try:
        while pending or running:
            while pending and len(running) < _READERS and error is None:
                shard, part = pending.pop(0)
                reader = _Reader.start(job, shard, part)
                running[reader.fd] = reader
            if not running:
                break
            ready, _, _ = select.select(list(running), [], [], 0.2)
            for fd in ready:
                reader = running[fd]
                for kind, payload in reader.receive():
                    if kind == _PROGRESS:
                        count, latest = json.loads(payload)
                        counter.add_count(count, latest)
                    elif kind == _FAILED and error is None:
                        error = _unpickled(payload, reader.shard)
                if reader.ended:
                    del running[fd]
                    failure = reader.reap()
                    if error is None and failure is not None:
                        error = failure
            counter.report(progress)
            if error is not None:
                break
    finally:
        for reader in running.values():
            reader.kill()
    if error is not None:
        raise error


class _Reader:
    """One forked shard reader, seen from the main process."""

    def __init__(self, pid: int, fd: int, shard: int) -> None:
        self.pid, self.fd, self.shard = pid, fd, shard
        self.ended = self.done = False
        self._buffer = b""

    @classmethod
    def start(cls, job: _Job, shard: int, part: Path) -> _Reader:
        import signal

        read_end, write_end = os.pipe()
        # A Ctrl-C while forking would land in the fork handlers, which swallow it: it is noted meanwhile
        # and raised once the reader exists (the reader itself ignores it: the main process ends it).
        interrupted: list[int] = []
        try:
            previous = signal.signal(signal.SIGINT, lambda number, frame: interrupted.append(number))
        except ValueError:                              # not the main thread: nothing to hold back
            previous = None
        pid = -1
        try:
            pid = os.fork()
        except BaseException:
            os.close(read_end)
            os.close(write_end)
            raise
        finally:
            if previous is not None and pid != 0:
                signal.signal(signal.SIGINT, previous)
        if pid == 0:                                    # the reader: never returns to the caller's code
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _end_with_parent()
                os.close(read_end)
                _reader_main(job, shard, part, write_end)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        reader = cls(pid, read_end, shard)
        if interrupted:
            reader.kill()
            raise KeyboardInterrupt
        return reader

    def receive(self) -> list[tuple[bytes, bytes]]:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.ended = True
        self._buffer += chunk
        messages = []
        while len(self._buffer) >= 5:
            size = int.from_bytes(self._buffer[1:5], "big")
            if len(self._buffer) < 5 + size:
                break
            kind, payload, self._buffer = self._buffer[:1], self._buffer[5:5 + size], self._buffer[5 + size:]
            self.done = self.done or kind == _DONE
            messages.append((kind, payload))
        return messages

    def reap(self) -> BaseException | None:
        """Wait for the ended reader; an error when it ended without saying it was done."""
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        if self.done and os.waitstatus_to_exitcode(status) == 0:
            return None
        from ackaudit.errors import AckAuditError

        return AckAuditError(f"reading shard {self.shard} failed: its reader ended with status "
                             f"{os.waitstatus_to_exitcode(status)}")

    def kill(self) -> None:
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _end_with_parent() -> None:
    """Have the kernel end this reader if the main process dies without ending it (Linux)."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError, ImportError):
        pass


def _reader_main(job: _Job, shard: int, part: Path, fd: int) -> None:
    import pickle

    def send(kind: bytes, payload: bytes) -> None:
        view = memoryview(kind + len(payload).to_bytes(4, "big") + payload)
        while view:
            view = view[os.write(fd, view):]

    def done(events: list[dict[str, Any]]) -> None:
        if events:
            send(_PROGRESS, json.dumps([len(events), events[-1].get("__time__")]).encode())

    try:
        job.run(job.sls.fresh(), shard, part, done)
    except BaseException as exc:
        try:
            payload = pickle.dumps(exc)
        except Exception:                               # an error that cannot travel: its words can
            payload = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
        send(_FAILED, payload)
        raise
    send(_DONE, b"")


def _unpickled(payload: bytes, shard: int) -> BaseException:
    import pickle

    try:
        error = pickle.loads(payload)
    except Exception:
        error = None
    if isinstance(error, BaseException):
        return error
    from ackaudit.errors import AckAuditError

    return AckAuditError(f"reading shard {shard} failed")
