"""`export`'s pipeline: every shard of the logstore read at the same time, each into a part file of
its own, joined in shard order once all are complete.

The order of an export is the shards' order (by shard id), each shard's events in arrival order: the
order a one-shard-after-another read gives, whatever the timing. Shard parts are staged beside the
output's temporary file and removed whatever happens; the output itself is only published by
`services.files.staged` once joined, so an error or Ctrl-C never leaves a partial file.

Shards are read by threads, at most _READERS at once: the reads wait on the network, and a thread
converts its batch (`export_plan`) while the others' requests are in flight.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ackaudit.services.export_plan import CsvLines, EventMaker, jsonl_text
from ackaudit.services.files import Target, staged

_READERS = 4                 # shards read at once
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
            with self._lock:
                self.written += len(events)
                self.latest = events[-1].get("__time__")


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
    from ackaudit.services.archive import shard_batches

    maker, lines, counter = EventMaker(redact=redact, catalogue=catalogue), _Lines(fmt, csv_columns), _Counter()
    stop = threading.Event()
    with staged(target) as staging:
        first = staging.path if fmt != "parquet" else staging.path.with_name(staging.path.name + ".stage.jsonl")
        parts = [first, *(staging.path.with_name(f"{staging.path.name}.{n}") for n in range(1, len(shards)))]
        files: list[IO[str]] = []
        try:
            for part in parts:
                files.append(open(part, "w", encoding="utf-8", newline=""))  # noqa: SIM115 - closed below
            files[0].write(lines.header())
            pending = list(zip(shards, files, strict=True))
            errors: list[BaseException] = []
            take = threading.Lock()

            def read() -> None:
                try:
                    while not stop.is_set():
                        with take:
                            if not pending:
                                return
                            shard, out = pending.pop(0)
                        for rows in shard_batches(sls, project, logstore, shard, from_time, to_time, now=now):
                            if stop.is_set():
                                return
                            events = maker.events(rows)
                            out.write(lines.text(events))
                            counter.add(events)
                except BaseException as exc:       # handed to the main thread, which raises it
                    errors.append(exc)
                    stop.set()

            readers = [threading.Thread(target=read, name="ackaudit-export-reader", daemon=True)
                       for _ in range(min(_READERS, len(shards)))]
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
            for out in files:
                out.close()
            _join(fmt, staging.path, parts)
        finally:
            for out in files:
                with contextlib.suppress(OSError):
                    out.close()
            for part in parts[1:] if fmt != "parquet" else parts:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
    return counter.written, staging.bytes
