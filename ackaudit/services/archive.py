"""Audit events in files: `export` writes a window of a cluster's events to one, and `--source` reads
one back as an event source, so every query, filter and session works offline as against a cluster.

Export reads in bulk with SLS cursors (GetCursor + PullLogs over every shard) rather than by paging
GetLogs: PullLogs hands over up to 1000 log groups per call, lz4-compressed, needs no index and does
no search work, while GetLogs returns at most 100 rows per call and re-runs the search and sorts for
every page, which gets slower the deeper the offset (`bench/bench_export.py --reads` measures both).
The shards are read at the same time and the rows turned into events a batch at a time with a field
plan per key set (`services/exporter.py`, `services/export_plan.py`); an export holds the shards in
shard order, each in arrival order.

Files are written by the rules of `ackaudit.services.files`: staged in a temporary file and renamed
(or copied through to stdout, a pipe or a device) once complete, so a failure or Ctrl-C never leaves a
partial file, and an existing file is only replaced when asked.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ackaudit.audit.escape import csv_value
from ackaudit.audit.fields import FIELD_NAMES, FIELDS, JSON_CONTAINERS, flatten_event
from ackaudit.audit.timeparse import iso
from ackaudit.engine.ingest import MAX_TIME
from ackaudit.errors import UsageError, shown, shown_path
from ackaudit.services.files import Target, check_suffix
from ackaudit.services.investigate import window_for  # noqa: F401  (the window of a file source lives there)

FORMATS = ("jsonl", "csv", "parquet")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}

# Cursors go by the time SLS received a log, not by the log's own `__time__`. A node's clock may run
# a little ahead of SLS's, and an agent may deliver a log a while after it happened (buffering,
# retries), so reading starts CLOCK_SKEW before the window and goes on LATE_ARRIVAL after it; rows
# outside the window are dropped by their `__time__`.
CLOCK_SKEW = 300
LATE_ARRIVAL = 900
PULL_GROUPS = 1000       # the most log groups one PullLogs call returns


# -- reading a logstore in bulk ------------------------------------------------------------------

def read_window(sls: Any, project: str, logstore: str, from_time: int, to_time: int, *,
                now: float) -> Iterator[dict[str, str]]:
    """Every raw row of the logstore with `from_time <= __time__ < to_time`, shard by shard, in
    arrival order. The end is fixed before reading, so logs arriving meanwhile cannot make it run on.
    The next batch is fetched while the caller works through the current one."""
    with contextlib.closing(_prefetched(_pulled_batches(sls, project, logstore, from_time, to_time,
                                                        now=now))) as batches:
        for batch in batches:
            yield from batch


def _pulled_batches(sls: Any, project: str, logstore: str, from_time: int, to_time: int, *,
                    now: float) -> Iterator[list[dict[str, str]]]:
    for shard in sls.shard_ids(project, logstore):
        yield from shard_batches(sls, project, logstore, shard, from_time, to_time, now=now)


def shard_batches(sls: Any, project: str, logstore: str, shard: int, from_time: int, to_time: int, *,
                  now: float) -> Iterator[list[dict[str, str]]]:
    """One shard's raw rows with `from_time <= __time__ < to_time`, a PullLogs batch at a time, in
    arrival order."""
    last_receive = to_time + LATE_ARRIVAL
    cursor = sls.cursor_at(project, logstore, shard, max(0, from_time - CLOCK_SKEW))
    end_cursor = sls.cursor_at(project, logstore, shard, "end" if last_receive >= now else last_receive)
    while True:
        pulled = sls.pull_logs(project, logstore, shard, cursor, end_cursor=end_cursor, count=PULL_GROUPS)
        yield [row for row in pulled.rows if from_time <= int(row["__time__"]) < to_time]
        if pulled.next_cursor == cursor:
            break
        cursor = pulled.next_cursor


_PREFETCH = 2       # batches read ahead: enough to hide the network, few enough to keep memory flat


def _prefetched(batches: Iterator[list[dict[str, str]]]) -> Iterator[list[dict[str, str]]]:
    """`batches`, produced by a background thread at most _PREFETCH ahead; its errors are raised here.
    When the consumer stops early (an error, Ctrl-C) the thread stops too."""
    import queue
    import threading

    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer(("batch", batch)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            offer(("error", exc))

    worker = threading.Thread(target=produce, name="ackaudit-export-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = ready.get()
            if kind == "batch":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()


# -- writing files -------------------------------------------------------------------------------

def format_of(path: str, given: str | None) -> str:
    """The file format: --format, or the extension of --out; when both are given they must agree."""
    if given is not None and given not in FORMATS:
        raise UsageError(f"--format {shown(given)}: use one of {', '.join(FORMATS)}")
    if given:
        check_suffix(path, given, [s for s, f in _EXTENSIONS.items() if f == given])
        return given
    named = _EXTENSIONS.get(Path(path).suffix.lower())
    if named is None:
        raise UsageError(f"cannot tell the format of {shown_path(path)} from its extension",
                         hint="name it .jsonl, .csv or .parquet, or pass --format")
    return named


def csv_columns(leading: Sequence[str]) -> list[str]:
    """`leading` (the columns `query -o csv` prints, in its order), then every other field of an
    event, so that a csv export keeps whole events."""
    rest = [name for name in ("__time__", *FIELD_NAMES) if name not in leading]
    return [*leading, *rest]


# Parquet column types; every other field is VARCHAR.
_PARQUET_TYPES = {
    "__time__": "BIGINT",
    "time": "TIMESTAMPTZ",
    "k8s.user.groups": "VARCHAR[]",
    "k8s.pod.labels": "MAP(VARCHAR, VARCHAR)",
    "kubeObject.operation.podExecOptions.command": "VARCHAR[]",
    "risk": "STRUCT(name VARCHAR, category VARCHAR, reason VARCHAR)",
    **{f.name: {"long": "BIGINT", "bool": "BOOLEAN", "json": "JSON"}[f.value_type]
       for f in FIELDS if f.value_type != "text" and f.name not in
       ("k8s.user.groups", "k8s.pod.labels", "kubeObject.operation.podExecOptions.command")},
}


# DuckDB converts the staged JSON lines in one streaming COPY: one thread keeps the rows in the order
# they were staged, and row groups of 10,000 (DuckDB's default is 122,880) keep its memory to about
# 100 MB whatever the size, and hold less of the file in memory at a time when `--source` reads it back,
# for a file about 2% larger. It runs in a fresh interpreter of its own, which holds nothing else (this
# process holds the SDKs, Typer...).
_PARQUET_ROW_GROUP = 10_000


def parquet_from_jsonl(stages: Sequence[Path], path: Path) -> None:
    """The staged JSON lines (files of flat events, in this order) as typed parquet columns at `path`."""
    import subprocess
    import sys

    if getattr(sys, "frozen", False):              # no interpreter to start: convert here
        copy_to_parquet(stages, path)
        return
    command = [sys.executable, "-c", "import sys; from ackaudit.services.archive import _parquet_main; "
               "sys.exit(_parquet_main(sys.argv[1:]))", str(path), *map(str, stages)]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, errors = proc.communicate()
    except BaseException:                          # Ctrl-C: the conversion ends with us
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        lines = errors.decode("utf-8", "replace").strip().splitlines()
        raise OSError(errno.EIO, lines[-1] if lines else f"the parquet conversion failed ({proc.returncode})")


def _parquet_main(argv: list[str]) -> int:
    import sys

    try:
        copy_to_parquet([Path(stage) for stage in argv[1:]], Path(argv[0]))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(exc.strerror or exc, file=sys.stderr)
        return 1
    return 0


def copy_to_parquet(stages: Sequence[Path], path: Path) -> None:
    import duckdb

    columns = {name: _PARQUET_TYPES.get(name, "VARCHAR") for name in ("__time__", *FIELD_NAMES, "risk")}
    db = duckdb.connect(config={"threads": 1})
    try:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET preserve_insertion_order = true")
        db.execute(f"COPY (SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?)) "
                   f"TO '{_sql_text(str(path))}' (FORMAT parquet, COMPRESSION zstd, "
                   f"ROW_GROUP_SIZE {_PARQUET_ROW_GROUP})", [[str(stage) for stage in stages], columns])
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:
        raise OSError(errno.EIO, str(exc).splitlines()[0]) from None
    finally:
        db.close()


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


@dataclass
class ExportResult:
    out: str
    format: str
    events: int
    from_time: int
    to_time: int
    bytes: int
    redacted: bool

    def to_json(self) -> dict[str, Any]:
        return {"out": self.out, "format": self.format, "events": self.events, "from": iso(self.from_time),
                "to": iso(self.to_time), "bytes": self.bytes, "redacted": self.redacted}


Progress = Callable[[int, int | None], None]    # (events written, __time__ of the latest one)


def export_events(rows: Iterable[dict[str, str]], target: Target, fmt: str, from_time: int, to_time: int, *,
                  redact: bool, catalogue: dict[str, Any], csv_order: Sequence[str],
                  progress: Progress | None = None) -> ExportResult:
    """Write `rows` (raw audit rows) as flat events, risk-marked and (unless told) redacted."""
    from ackaudit.services.exporter import export_events as write_events

    events, size = write_events(rows, target, fmt, redact=redact, catalogue=catalogue,
                                csv_columns=csv_columns(csv_order), progress=progress)
    return ExportResult(target.name, fmt, events, from_time, to_time, size, redact)


def export_logstore(sls: Any, project: str, logstore: str, from_time: int, to_time: int, target: Target,
                    fmt: str, *, now: float, redact: bool, catalogue: dict[str, Any], csv_order: Sequence[str],
                    progress: Progress | None = None) -> ExportResult:
    """Every event of the window in the logstore, its shards read at the same time and written in shard
    order (each in arrival order), as `export_events` writes them."""
    from ackaudit.services.exporter import export_shards

    events, size = export_shards(sls, project, logstore, from_time, to_time, target, fmt, now=now, redact=redact,
                                 catalogue=catalogue, csv_columns=csv_columns(csv_order), progress=progress)
    return ExportResult(target.name, fmt, events, from_time, to_time, size, redact)


# -- reading files back --------------------------------------------------------------------------

class ArchiveError(UsageError):
    """A file that cannot be read as audit events: says which file, and where in it."""


_FILE_PROJECT = "file"
_TEXT_FIELDS = frozenset(f.name for f in FIELDS if f.value_type == "text")
_CONTAINERS = frozenset(c.lower() for c in JSON_CONTAINERS)


@dataclass
class FilePage:
    rows: list[dict[str, str]]
    complete: bool = True


class FileSource:
    """An exported file (jsonl, csv, parquet; or a raw SLS export: a JSON list or JSON lines of raw
    rows) loaded into an in-memory query engine with the audit logstore's index, so searches, SQL and
    paging behave exactly as against the cluster's logstore."""

    # A file is searched in pages this long (the engine is local: no reason for SLS's 100).
    page_size = 20_000
    # Statements worth running at once (a report's panels): one per core, as each gets one DuckDB
    # thread; more only share the cores and hold more buffers.
    statements_at_once = max(1, min(4, os.cpu_count() or 1))
    # What DuckDB's working memory should stay within, spilling beyond it (a report over a million
    # events peaked at 310-340 MB of RSS without it, about 250 MB with it, as fast within the noise).
    soft_memory_mb = 128

    def __init__(self, path: str) -> None:
        import tempfile

        from ackaudit.audit.index import bundled_index
        from ackaudit.engine import EventStore
        from ackaudit.engine import sql as analytic
        from ackaudit.services import archive_sql

        analytic.warm_up()          # while DuckDB reads the file's shape
        self.path = path
        self._logstore = Path(path).name or "events"
        kind = archive_sql.file_kind(_checked_file(path))
        self._workdir = tempfile.TemporaryDirectory(prefix="ackaudit-source-")
        try:
            self._store = EventStore(None, max_lines=self.page_size)
            # One DuckDB thread per statement: a report runs several statements at a time anyway, and
            # each thread holds its own share of a scan's buffers (RSS grows with threads).
            self._store.configure(self._workdir.name, threads=1)
            self._store.set_index(_FILE_PROJECT, self._logstore, bundled_index())
            # What `export` writes is read by DuckDB itself; anything else row by row, in Python.
            count = archive_sql.load(self._store, _FILE_PROJECT, self._logstore, path, kind, self._workdir.name)
            self.read_by = "duckdb"
            if count is None:
                self.read_by = "python"
                count = self._store.append(_FILE_PROJECT, self._logstore, load_rows(path))
            self.count = count
            self.span = self._store.time_span(_FILE_PROJECT, self._logstore)
            if self.read_by == "duckdb":
                # The events stay in the file: only the queries' working memory is held to the limit
                # (rows loaded the Python way live in DuckDB's memory, and would spill).
                self._store.keep_memory_within(self.soft_memory_mb)
        except BaseException:
            self.close()
            raise

    @property
    def description(self) -> str:
        return self.path

    def get(self, query: str, from_time: int, to_time: int, *, offset: int = 0, line: int = 100,
            reverse: bool = False) -> FilePage:
        from ackaudit.engine.errors import QueryError

        try:
            result = self._store.query(_FILE_PROJECT, self._logstore, query, from_time, to_time, offset=offset,
                                       line=line, reverse=reverse)
        except QueryError as exc:
            raise UsageError(f"the search cannot run on {self.path}: {exc.message}") from None
        return FilePage(result.rows)

    def close(self) -> None:
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()
            self._store = None
        self._workdir.cleanup()


def load_rows(path: str) -> Iterator[dict[str, str]]:
    """The raw rows of a file, as the engine stores them; ArchiveError names the line or row at fault."""
    file = _checked_file(path)
    if file.suffix.lower() == ".parquet" or _starts_with(file, _PARQUET_MAGIC):
        yield from _parquet_rows(path)
    elif file.suffix.lower() == ".csv":
        yield from _csv_rows(path)
    else:
        yield from _json_rows(path)


def _checked_file(path: str) -> Path:
    """`path` as a Path, once it is known to name a regular file (else ArchiveError)."""
    file = Path(path)
    try:
        regular = file.is_file()
    except OSError as exc:      # a name too long for the file system, a loop of links...
        raise ArchiveError(f"{shown_path(path)}: cannot read: {exc.strerror or type(exc).__name__}") from None
    if not regular:
        raise ArchiveError(f"{shown_path(path)}: no such file" if not file.exists() else f"{shown_path(path)}: not a file")
    return file


_PARQUET_MAGIC = b"PAR1"


def _starts_with(file: Path, magic: bytes) -> bool:
    try:
        with open(file, "rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def _json_rows(path: str) -> Iterator[dict[str, str]]:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).lstrip()
            handle.seek(0)
            if head.startswith(b"["):        # one JSON list, as SLS console exports and `query -o json` give
                try:
                    records = json.loads(_utf8(handle.read(), path, "the file"))
                except ValueError as exc:
                    raise ArchiveError(f"{path}: not valid JSON: {exc}") from None
                except RecursionError:
                    raise ArchiveError(f"{path}: not valid JSON: nested too deeply") from None
                if not isinstance(records, list):
                    raise ArchiveError(f"{path}: not a JSON list of events")
                for number, record in enumerate(records, start=1):
                    yield _raw_row(record, path, f"item {number}")
                return
            for number, line in enumerate(handle, start=1):
                text = _utf8(line, path, f"line {number}")
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except ValueError as exc:
                    raise ArchiveError(f"{path}: line {number}: not valid JSON: {exc}") from None
                except RecursionError:
                    raise ArchiveError(f"{path}: line {number}: not valid JSON: nested too deeply") from None
                yield _raw_row(record, path, f"line {number}")
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _utf8(data: bytes, path: str, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError(f"{path}: {where}: not UTF-8 text") from None


def _csv_rows(path: str) -> Iterator[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return
            if not {"time", "__time__"} & set(header):
                raise ArchiveError(f"{path}: line 1: no time or __time__ column: not an exported csv")
            for record in reader:
                where = f"line {reader.line_num}"
                if len(record) != len(header):
                    raise ArchiveError(f"{path}: {where}: {len(record)} fields where the header has "
                                       f"{len(header)}")
                values = dict(zip(header, (csv_value(cell) for cell in record), strict=True))
                yield _raw_row(_csv_present(values), path, where)
    except UnicodeDecodeError:
        raise ArchiveError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise ArchiveError(f"{path}: not valid csv: {exc}") from None
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _csv_present(record: dict[str, str]) -> dict[str, str]:
    """A csv cannot tell an absent field from an empty one. An empty cell is taken as absent, unless
    it is text beside other values of the same object (a service account's empty `k8s.user.aliuid`)."""
    present = {k: v for k, v in record.items() if v != ""}
    parents = {k.rsplit(".", 1)[0] for k in present if "." in k}
    for key, value in record.items():
        if value == "" and key in _TEXT_FIELDS and "." in key and key.rsplit(".", 1)[0] in parents:
            present[key] = ""
    return present


def _parquet_rows(path: str) -> Iterator[dict[str, str]]:
    import duckdb

    db = duckdb.connect()
    try:
        db.execute("SET TimeZone = 'UTC'")
        try:
            result = db.execute("SELECT * FROM read_parquet(?)", [path])
        except duckdb.Error as exc:
            raise ArchiveError(f"{path}: not a readable parquet file: {str(exc).splitlines()[0]}") from None
        names = [d[0] for d in result.description]
        number = 0
        while batch := result.fetchmany(10_000):
            for values in batch:
                number += 1
                record = {k: _plain(v) for k, v in zip(names, values, strict=True) if v is not None}
                yield _raw_row(record, path, f"row {number}")
    finally:
        db.close()


def _plain(value: Any) -> Any:
    """Parquet values as JSON would hold them (timestamps as ISO text, to the microsecond)."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        timespec = "microseconds" if stamp.microsecond else "seconds"
        return stamp.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")
    return value


def _raw_row(record: Any, path: str, where: str) -> dict[str, str]:
    """A file record as a raw row: a raw one (JSON-typed `k8s`, `process`, ... fields) as it is, a
    flat one (dotted names) nested back into those fields, so the same dotted keys find it."""
    if not isinstance(record, dict):
        raise ArchiveError(f"{path}: {where}: not a JSON object")
    try:
        raw = _from_raw(record) if any(str(k).lower() in _CONTAINERS for k in record) else _from_flat(record)
    except (ValueError, OverflowError, TypeError) as exc:     # flatten_event's numbers: "abc", 1e999, [1]
        raise ArchiveError(f"{path}: {where}: a value of the wrong type: {exc}") from None
    stamp = _receive_time(raw, record)
    if stamp is None:
        raise ArchiveError(f"{path}: {where}: no usable time (__time__ or time, from 1970 to 2106)")
    raw["__time__"] = str(stamp)
    return raw


def _from_raw(record: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in record.items():
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            out[str(key)] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        else:
            out[str(key)] = str(value)
    return out


# Per field: its name, the JSON field it nests in (None: top level), the path to its parent, its key.
_NESTING = tuple((f.name, f.container, f.path[:-1], f.path[-1] if f.path else f.name) for f in FIELDS)


def _from_flat(record: dict[str, Any]) -> dict[str, str]:
    flat = flatten_event(record)          # names in the audit log's casing, values typed
    raw: dict[str, Any] = {}
    for name, container, parents, key in _NESTING:
        if name not in flat:
            continue
        if container is None:
            raw[name] = flat[name]
            continue
        node = raw.setdefault(container, {})
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = flat[name]
    if "__time__" in flat:
        raw["__time__"] = flat["__time__"]
    return _from_raw(raw)


def _receive_time(raw: dict[str, str], record: dict[str, Any]) -> int | None:
    """The row's __time__, or its `time` when it has none; None when neither is a time SLS can hold
    (whole seconds of an unsigned 32-bit epoch: 1970 to 2106)."""
    try:
        text = raw.get("__time__")
        if text not in (None, ""):
            return _in_range(math.floor(float(text)))
        stamp = raw.get("time") or record.get("time")
        if not isinstance(stamp, str) or not stamp:
            return None
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return _in_range(math.floor(parsed.timestamp()))
    except (ValueError, OverflowError, TypeError):      # "abc", nan, inf, year 0
        return None


def _in_range(epoch: int) -> int | None:
    return epoch if 0 <= epoch <= MAX_TIME else None

