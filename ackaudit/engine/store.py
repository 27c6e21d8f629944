"""EventStore: logstores as DuckDB tables, queried with SLS search + SQL.

Each logstore is one table `ls_<n>`: `__seq__` (arrival order), `__time__`, `__keyset__` (which
keys the row arrived with), then one VARCHAR column per field name in lower case (SLS field
names are case-insensitive), including the dotted leaf columns of JSON fields. A small catalog
(`ackaudit_logstores`, `ackaudit_keysets`) makes an on-disk store reopenable.

A logstore may instead be a read-only view over a relation (`attach_view`: a file read where it
lies), with the same columns; nothing is copied, each query reads the relation.

Processes: DuckDB lets one process at a time open a database file. A store opened `shared=True`
holds the file only for the length of each call (opening it, with retries while another process
holds it, and reloading the catalog, so it sees what other processes wrote): several processes
can then read and write one store in turn. Otherwise the store keeps the file open until close().

Threads: one DuckDB database, a fresh cursor (its own connection) per call. Writers are
serialised by a lock and publish, after each commit, an immutable `_View` (columns, keys, end of
the sequence). A reader works from the view it started with and reads only rows below its end,
so rows and schema always agree even while appends run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ackaudit.engine import histogram as hist
from ackaudit.engine import sql as analytic
from ackaudit.engine.errors import StoreBusy, invalid
from ackaudit.engine.index import declared_columns, unindexed_key_message
from ackaudit.engine.ingest import (
    KEYSET,
    SEQ,
    TIME,
    BatchWriter,
    DerivedKeysets,
    KeysetRegistry,
    json_path,
    leaf_paths,
)
from ackaudit.engine.predicate import compile_predicate, quote_identifier
from ackaudit.engine.result import QueryResult, format_value
from ackaudit.engine.search import Node, keys_of, parse_search, split_query

MAX_LINES = 100
BATCH_ROWS = 100_000
_INTERNAL = (SEQ, TIME, KEYSET)
_BASE_COLUMNS = ("__source__", "__topic__")


@dataclass(frozen=True)
class _View:
    """What readers may rely on: committed columns and the rows below `end_seq`."""
    columns: tuple[str, ...]          # user columns, lower case, table order
    originals: frozenset[str]         # columns holding a key as rows arrived with it (not a JSON leaf)
    end_seq: int

    def original_columns(self) -> list[str]:
        return [c for c in self.columns if c in self.originals]

    def fulltext_columns(self) -> list[str]:
        return [c for c in self.original_columns() if not c.startswith("__")]


@dataclass(frozen=True)
class RawRows:
    """Rows as stored, for bulk readers: each record is `(seq, __time__, keyset id, *values)`, the
    values in the order of `columns` (None where a row has no such key); `keysets` gives each
    row's keys in their original spelling and order (read-only)."""
    columns: tuple[str, ...]
    keysets: Mapping[int, tuple[str, ...]]
    records: list[tuple]
    next_seq: int


@dataclass
class _Logstore:
    table: str
    view: _View
    index: dict[str, Any] | None = None
    keysets: KeysetRegistry = field(default_factory=KeysetRegistry)


_HOLDER_PID = re.compile(r"\(PID (\d+)\)")


def _held(method):
    """Run `method` with the database open (a shared store opens it for the call)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if not self._shared:
            return method(self, *args, **kwargs)
        with self._opened():
            return method(self, *args, **kwargs)
    return call


class RunningStatement:
    """One statement running in a thread of its own (DuckDB lets go of the GIL while it works);
    `result()` waits for its rows, `cancel()` interrupts it. Either must be called, once."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, statement: str) -> None:
        self._cursor = cursor
        self._rows: list[tuple] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(statement,), name="ackaudit-statement", daemon=True)
        self._thread.start()

    def _run(self, statement: str) -> None:
        try:
            result = self._cursor.execute(statement)
            self._rows = result.fetchall() if result.description else []
        except BaseException as exc:        # given to whoever waits for the result
            self._error = exc

    def result(self) -> list[tuple]:
        self._thread.join()
        self._cursor.close()
        if self._error is not None:
            raise self._error
        return self._rows

    def cancel(self) -> None:
        # Again until it stops: an interrupt that comes before the statement has begun is lost.
        while self._thread.is_alive():
            self._cursor.interrupt()
            self._thread.join(0.05)
        self._cursor.close()


class EventStore:
    def __init__(self, path: str | os.PathLike | None = None, *, shared: bool = False,
                 wait: float = 10.0, max_lines: int = MAX_LINES) -> None:
        # Absolute: DuckDB reads a relative "http:/x" or "s3:/x" as a URL to fetch an extension for.
        self._path = os.path.abspath(path) if path is not None else ":memory:"
        self._shared = shared and path is not None
        self._wait = wait
        self._max_lines = max_lines        # the most rows one search page returns
        self._lock = threading.RLock()
        self._depth = 0
        self._db: Any = None
        self._logstores: dict[tuple[str, str], _Logstore] = {}
        self._soft_memory_limit: bool | None = None   # None: none set; False: lifted
        if self._shared:
            with self._opened():        # create the file and its catalog now
                pass
        else:
            self._db = self._connect()
            self._prepare()

    def _connect(self):
        deadline = time.monotonic() + self._wait
        pause = 0.02
        while True:
            try:
                return duckdb.connect(self._path)
            except duckdb.IOException as exc:
                text = str(exc)
                if "lock" not in text.lower():
                    raise
                if time.monotonic() >= deadline:
                    match = _HOLDER_PID.search(text)
                    pid = int(match[1]) if match else None
                    holder = f"process {pid}" if pid else "another process"
                    raise StoreBusy(f"{self._path} is held by {holder}", pid) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    @contextlib.contextmanager
    def _opened(self):
        with self._lock:
            if self._depth == 0:
                self._db = self._connect()
                try:
                    self._prepare()
                except BaseException:
                    self._db.close()
                    raise
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    db, self._db = self._db, None
                    db.close()

    def _prepare(self) -> None:
        self._db.execute("SET GLOBAL TimeZone = 'UTC'")
        for macro in analytic.MACROS:
            self._db.execute(macro)
        self._db.execute("CREATE TABLE IF NOT EXISTS ackaudit_logstores (project VARCHAR, logstore VARCHAR, "
                         "tbl VARCHAR, index_config VARCHAR, PRIMARY KEY (project, logstore))")
        self._db.execute("CREATE TABLE IF NOT EXISTS ackaudit_keysets (tbl VARCHAR, id INTEGER, keys VARCHAR)")
        self._load_catalog()

    @_held
    def configure(self, temp_directory: str, threads: int | None = None) -> None:
        """Where DuckDB may spill what does not fit in memory, and how many threads it uses."""
        self._db.execute(f"SET temp_directory = '{temp_directory.replace(chr(39), chr(39) * 2)}'")
        if threads:
            self._db.execute(f"SET threads = {int(threads)}")

    @_held
    def keep_memory_within(self, megabytes: int) -> None:
        """A soft limit on DuckDB's memory for queries: beyond it DuckDB spills to the temporary
        directory, and the first query that cannot run within it lifts it for the rest of the
        store's life and runs again. (Loading rows is not retried: set it once they are in.)"""
        self._db.execute(f"SET memory_limit = '{int(megabytes)}MB'")
        self._soft_memory_limit = True

    def _lift_memory_limit(self) -> bool:
        """Lift the soft memory limit, if not done yet (DuckDB's own default applies again); False
        when there never was one, so asking again would not help."""
        with self._lock:
            if self._soft_memory_limit is None:
                return False
            if self._soft_memory_limit:
                self._soft_memory_limit = False
                self._db.execute("RESET memory_limit")
            return True

    @_held
    def run(self, statement: str, params: list[Any] | None = None) -> list[tuple]:
        """One statement of the caller's (reading files into the store, for instance); its rows."""
        cursor = self._db.cursor()
        try:
            result = cursor.execute(statement, params or [])
            return result.fetchall() if result.description else []
        finally:
            cursor.close()

    def start(self, statement: str) -> RunningStatement:
        """`statement` running meanwhile, in a thread and on a cursor of its own (a store that is
        not shared: the database must stay open until the statement is waited for or cancelled)."""
        return RunningStatement(self._db.cursor(), statement)

    # -- catalog --------------------------------------------------------------------------
    def _load_catalog(self) -> None:
        self._logstores = {}
        for project, logstore, table, index in self._db.execute(
                "SELECT project, logstore, tbl, index_config FROM ackaudit_logstores").fetchall():
            columns = [name for (name,) in self._db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall() if name not in _INTERNAL]
            keysets = KeysetRegistry()
            for keyset_id, keys in self._db.execute(
                    "SELECT id, keys FROM ackaudit_keysets WHERE tbl = ? ORDER BY id", [table]).fetchall():
                stored = tuple(json.loads(keys))
                keysets.ids[stored] = keyset_id
                keysets.keys[keyset_id] = stored
            originals = frozenset(k.lower() for keys in keysets.keys.values() for k in keys)
            end = self._db.execute(f"SELECT coalesce(max({SEQ}) + 1, 0) FROM {table}").fetchone()[0]
            view = _View(tuple(columns), originals, end)
            self._logstores[(project, logstore)] = _Logstore(table, view, json.loads(index) if index else None,
                                                              keysets)

    def _logstore(self, project: str, logstore: str) -> _Logstore:
        ls = self._logstores.get((project, logstore))
        if ls is not None:
            return ls
        with self._lock:
            return self._create(project, logstore)

    def _create(self, project: str, logstore: str) -> _Logstore:
        ls = self._logstores.get((project, logstore))
        if ls is not None:
            return ls
        taken = {t.table for t in self._logstores.values()}
        number = len(taken) + 1
        while f"ls_{number}" in taken:
            number += 1
        table = f"ls_{number}"
        base = ", ".join(f"{quote_identifier(c)} VARCHAR" for c in _BASE_COLUMNS)
        self._db.execute(f"CREATE OR REPLACE TABLE {table} ({SEQ} BIGINT NOT NULL, {TIME} BIGINT NOT NULL, "
                         f"{KEYSET} INTEGER NOT NULL, {base})")
        self._db.execute("INSERT INTO ackaudit_logstores VALUES (?, ?, ?, NULL)", [project, logstore, table])
        ls = _Logstore(table, _View(_BASE_COLUMNS, frozenset(), 0))
        self._logstores[(project, logstore)] = ls
        return ls

    @_held
    def ensure_logstore(self, project: str, logstore: str) -> None:
        self._logstore(project, logstore)

    @_held
    def drop_logstore(self, project: str, logstore: str) -> None:
        with self._lock:
            ls = self._logstores.pop((project, logstore), None)
            if ls is None:
                return
            self._db.execute(f"DROP TABLE IF EXISTS {ls.table}")
            self._db.execute("DELETE FROM ackaudit_logstores WHERE tbl = ?", [ls.table])
            self._db.execute("DELETE FROM ackaudit_keysets WHERE tbl = ?", [ls.table])

    @_held
    def set_index(self, project: str, logstore: str, index: dict | None) -> None:
        with self._lock:
            ls = self._logstore(project, logstore)
            columns = self._add_columns(self._db, ls, declared_columns(index))
            ls.view = _View(columns, ls.view.originals, ls.view.end_seq)
            self._db.execute("UPDATE ackaudit_logstores SET index_config = ? WHERE tbl = ?",
                             [json.dumps(index) if index is not None else None, ls.table])
            ls.index = index

    @staticmethod
    def _add_columns(cursor, ls: _Logstore, columns: Iterable[str],
                     known: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """Add the missing columns; returns the new column list, for the caller to publish."""
        out = list(ls.view.columns if known is None else known)
        for column in columns:
            if column not in out and column not in _INTERNAL:
                cursor.execute(f"ALTER TABLE {ls.table} ADD COLUMN {quote_identifier(column)} VARCHAR")
                out.append(column)
        return tuple(out)

    # -- ingest ---------------------------------------------------------------------------
    @_held
    def append(self, project: str, logstore: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store rows (PutLogs semantics); returns how many were stored."""
        total = 0
        rows = iter(rows)
        with self._lock:
            ls = self._logstore(project, logstore)
            more = True
            while more:
                fd, path = tempfile.mkstemp(prefix="ackaudit-", suffix=".ndjson")
                try:
                    writer = BatchWriter(ls.keysets, ls.view.end_seq)
                    try:
                        with os.fdopen(fd, "w", encoding="utf-8") as out:
                            more = writer.write(rows, out, BATCH_ROWS)
                    except BaseException:
                        self._forget_keysets(ls, writer)
                        raise
                    if writer.batch.rows:
                        self._load(ls, writer, path)
                    total += writer.batch.rows
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
        return total

    def _forget_keysets(self, ls: _Logstore, writer: BatchWriter) -> None:
        for keyset_id, keys in writer.batch.new_keysets:
            ls.keysets.ids.pop(keys, None)
            ls.keysets.keys.pop(keyset_id, None)

    def _load(self, ls: _Logstore, writer: BatchWriter, path: str) -> None:
        batch = writer.batch
        cursor = self._db.cursor()
        try:
            cursor.execute("BEGIN")
            spec = {SEQ: "BIGINT", TIME: "BIGINT", KEYSET: "INTEGER"}
            spec.update({spelling: "VARCHAR" for column, spelling in batch.spellings.items() if column != TIME})
            cursor.execute("CREATE TEMP TABLE stage AS SELECT * FROM read_json(?, format = 'newline_delimited', "
                           "columns = ?, maximum_object_size = 1073741824)", [path, spec])
            leaves = self._json_leaves(cursor, batch.spellings)
            columns = self._add_columns(cursor, ls, [c for c in batch.spellings if c != TIME])
            columns = self._add_columns(cursor, ls, [leaf for leaf, _, _ in leaves], columns)
            self._insert(cursor, ls, batch.spellings, leaves)
            cursor.execute("DROP TABLE stage")
            if batch.new_keysets:
                cursor.executemany("INSERT INTO ackaudit_keysets VALUES (?, ?, ?)",
                                   [[ls.table, i, json.dumps(keys)] for i, keys in batch.new_keysets])
            cursor.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
            self._forget_keysets(ls, writer)
            if isinstance(e, duckdb.Error):
                raise ValueError(f"cannot store the rows: {e}") from e
            raise
        finally:
            cursor.close()
        originals = ls.view.originals | {k.lower() for _, keys in batch.new_keysets for k in keys}
        ls.view = _View(columns, originals, writer.seq)

    def _json_leaves(self, cursor, spellings: dict[str, str]) -> list[tuple[str, str, tuple[str, ...]]]:
        """(leaf column, source key spelling, JSON path) for every leaf of JSON-object fields."""
        leaves = []
        for spelling in (s for c, s in spellings.items() if not c.startswith("__")):
            col = quote_identifier(spelling)
            # Distinct values first: JSON fields repeat a lot (same pod, same user), and
            # building a structure costs far more than hashing a string.
            structure = cursor.execute(
                f"SELECT json_group_structure(TRY_CAST(v AS JSON)) FROM (SELECT DISTINCT {col} AS v FROM stage "
                f"WHERE starts_with(ltrim({col}), '{{'))").fetchone()[0]
            if structure is None:
                continue
            for path in leaf_paths(json.loads(structure)):
                leaves.append((".".join((spelling, *path)).lower(), spelling, path))
        return leaves

    def _insert(self, cursor, ls: _Logstore, spellings: dict[str, str],
                leaves: list[tuple[str, str, tuple[str, ...]]]) -> None:
        params: list[Any] = []
        extracts = []                      # one multi-path extraction per JSON field
        sources: dict[str, list[str]] = {}  # column -> expressions that may fill it, first wins
        for column, spelling in spellings.items():
            sources.setdefault(column, []).append(f"s.{quote_identifier(spelling)}")
        by_field: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for leaf, spelling, path in leaves:
            by_field.setdefault(spelling, []).append((leaf, path))
        for n, (spelling, field_leaves) in enumerate(by_field.items()):
            col = quote_identifier(spelling)
            extracts.append(f"CASE WHEN json_valid(s.{col}) THEN json_extract_string(s.{col}, ?::VARCHAR[]) END "
                            f"AS __leaves_{n}")
            params.append([json_path(path) for _, path in field_leaves])
            for i, (leaf, _) in enumerate(field_leaves, start=1):
                sources.setdefault(leaf, []).append(f"__leaves_{n}[{i}]")
        targets = [SEQ, TIME, KEYSET] + [c for c in sources if c not in _INTERNAL]
        values = [f"s.{SEQ}", f"s.{TIME}", f"s.{KEYSET}"] + [
            exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})"
            for c, exprs in sources.items() if c not in _INTERNAL]
        inner = ", ".join(["s.*", *extracts])
        cursor.execute(f"INSERT INTO {ls.table} ({', '.join(quote_identifier(c) for c in targets)}) "
                       f"SELECT {', '.join(values)} FROM (SELECT {inner} FROM stage s) s", params)

    @_held
    def attach_view(self, project: str, logstore: str, select: str,
                    keysets: Mapping[int, tuple[str, ...]]) -> int:
        """Make the (new, empty) logstore a read-only view of `select`, a DuckDB statement giving
        the columns a loaded table holds: `__seq__` (0, 1, ... in arrival order), `__time__`,
        `__keyset__` (an id of `keysets`: each row's keys in their original spelling and order), then
        lower-case user columns, the JSON fields' dotted leaves included, as VARCHAR. Columns the
        logstore already declares (its index) and `select` lacks read as NULL. Nothing is copied:
        each query reads the relation, so a file can be searched without loading it. `keysets` may
        be DerivedKeysets (in a store in memory only: they are not written down). Returns the
        number of rows."""
        with self._lock:
            ls = self._logstore(project, logstore)
            if ls.view.end_seq:
                raise ValueError("attach_view needs an empty logstore")
            derived = isinstance(keysets, DerivedKeysets)
            if derived and self._path != ":memory:":
                raise ValueError("derived keysets cannot be kept in a store on disk")
            cursor = self._db.cursor()
            try:
                given = [d[0] for d in cursor.execute(f"SELECT * FROM ({select}) LIMIT 0").description]
                if given[:3] != [SEQ, TIME, KEYSET] or any(c != c.lower() for c in given):
                    raise ValueError(f"attach_view needs {SEQ}, {TIME}, {KEYSET}, then lower-case columns")
                user = [c for c in given[3:] if c not in _INTERNAL]
                columns = [*ls.view.columns, *(c for c in user if c not in ls.view.columns)]
                values = [quote_identifier(c) if c in user else f"NULL::VARCHAR AS {quote_identifier(c)}"
                          for c in columns]
                cursor.execute("BEGIN")
                cursor.execute(f"DROP TABLE {ls.table}")
                cursor.execute(f"CREATE VIEW {ls.table} AS SELECT {SEQ}, {TIME}, {KEYSET}, {', '.join(values)} "
                               f"FROM ({select})")
                if derived:
                    ls.keysets = KeysetRegistry(keys=keysets)      # a view takes no rows: no ids needed
                for keyset_id, keys in ({} if derived else keysets).items():
                    ls.keysets.ids[tuple(keys)] = keyset_id
                    ls.keysets.keys[keyset_id] = tuple(keys)
                if keysets and not derived:
                    cursor.executemany("INSERT INTO ackaudit_keysets VALUES (?, ?, ?)",
                                       [[ls.table, i, json.dumps(list(keys))] for i, keys in keysets.items()])
                cursor.execute("COMMIT")
                rows = cursor.execute(f"SELECT count(*) FROM {ls.table}").fetchone()[0]
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
                ls.keysets = KeysetRegistry()
                raise
            finally:
                cursor.close()
            originals = frozenset(k.lower() for k in keysets.possible) if derived else \
                frozenset(k.lower() for keys in keysets.values() for k in keys)
            ls.view = _View(tuple(columns), originals, rows)
        return rows

    # -- queries --------------------------------------------------------------------------
    @_held
    def query(self, project: str, logstore: str, query: str, from_time: int, to_time: int, *,
              offset: int = 0, line: int = 100, reverse: bool = False) -> QueryResult:
        query = query or ""
        search, sql = split_query(query)
        node = parse_search(search)
        if query.strip().endswith("|") and not sql:
            raise invalid("the analytic statement after '|' is empty")
        ls = self._logstore(project, logstore)
        view = ls.view
        where, params = self._where(ls, view, node, from_time, to_time)
        for attempt in (1, 2):
            cursor = self._db.cursor()
            try:
                processed = cursor.execute(f"SELECT count(*) FROM {ls.table} WHERE {TIME} >= ? AND {TIME} < ? "
                                           f"AND {SEQ} < ?", [from_time, to_time, view.end_seq]).fetchone()[0]
                if sql:
                    keys, rows = self._run_sql(cursor, ls, view, where, params, sql)
                else:
                    keys, rows = self._page(cursor, ls, view, where, params, offset, line, reverse)
                break
            except duckdb.OutOfMemoryException as e:
                if attempt == 2 or not self._lift_memory_limit():
                    raise invalid(f"out of memory: {analytic.first_line(e)}") from None
            finally:
                cursor.close()
        return QueryResult(rows=rows, has_sql=bool(sql), keys=keys, processed_rows=processed,
                           where_query=search, agg_query=sql)

    @staticmethod
    def _where(ls: _Logstore, view: _View, node: Node, from_time: int, to_time: int) -> tuple[str, list[Any]]:
        known = set(view.columns)

        def resolve(key: str) -> str | None:
            column = key.lower()
            if column in known:
                return column
            if ls.index is not None and not column.startswith("__"):
                raise invalid(unindexed_key_message(key))
            return None

        for key in keys_of(node):       # report an unindexed key even inside a false branch
            resolve(key)
        predicate, params = compile_predicate(node, resolve, view.fulltext_columns())
        return (f"{TIME} >= ? AND {TIME} < ? AND {SEQ} < ? AND {predicate}",
                [from_time, to_time, view.end_seq, *params])

    def _page(self, cursor, ls: _Logstore, view: _View, where: str, params: list[Any], offset: int, line: int,
              reverse: bool) -> tuple[list[str], list[dict[str, str]]]:
        line = max(0, min(int(line), self._max_lines))
        order = "DESC" if reverse else "ASC"
        originals = view.original_columns()
        select = ", ".join([SEQ, TIME, KEYSET, *map(quote_identifier, originals)])
        fetched = cursor.execute(f"SELECT {select} FROM {ls.table} WHERE {where} "
                                 f"ORDER BY {TIME} {order}, {SEQ} {order} LIMIT ? OFFSET ?",
                                 [*params, line, max(0, int(offset))]).fetchall()
        rows = self._rows(ls, originals, fetched)
        return list(dict.fromkeys(k for row in rows for k in row)), rows

    @staticmethod
    def _rows(ls: _Logstore, originals: list[str], fetched: list[tuple]) -> list[dict[str, str]]:
        position = {c: i for i, c in enumerate(originals, start=3)}
        out = []
        for record in fetched:
            row = {TIME: str(record[1]), "__source__": ""}
            for key in ls.keysets.keys[record[2]]:
                value = record[position[key.lower()]]
                if value is not None:
                    row[key] = value
            out.append(row)
        return out

    @staticmethod
    def _run_sql(cursor, ls: _Logstore, view: _View, where: str, params: list[Any],
                 sql: str) -> tuple[list[str], list[dict[str, str]]]:
        import sqlglot

        visible = ", ".join(quote_identifier(c) for c in [TIME, *view.columns])
        source = sqlglot.parse_one(f"SELECT {visible} FROM {ls.table} WHERE {where}", read="duckdb")
        statement = analytic.translate(sql, source)
        rows: list[dict[str, str]] = []
        try:
            result = cursor.execute(statement, params)
            keys = [d[0] for d in result.description]
            # In batches: a large answer is not held twice, as tuples and as rows.
            while batch := result.fetchmany(10_000):
                rows.extend(dict(zip(keys, map(format_value, record), strict=True)) for record in batch)
        except duckdb.OutOfMemoryException:
            raise                       # query() may lift a soft memory limit and ask again
        except duckdb.Error as e:
            raise invalid(f"SQL error: {analytic.first_line(e)}") from None
        return keys, rows

    @_held
    def histogram(self, project: str, logstore: str, query: str, from_time: int,
                  to_time: int) -> list[tuple[int, int, int]]:
        search, sql = split_query(query or "")
        if sql or (query or "").strip().endswith("|"):
            raise invalid("histograms take a search statement only, without an analytic statement")
        node = parse_search(search)
        if to_time <= from_time:
            return []
        ls = self._logstore(project, logstore)
        where, params = self._where(ls, ls.view, node, from_time, to_time)
        interval = hist.bucket_interval(from_time, to_time)
        cursor = self._db.cursor()
        try:
            counts = dict(cursor.execute(f"SELECT ({TIME} - ?) // ? AS bucket, count(*) FROM {ls.table} "
                                         f"WHERE {where} GROUP BY bucket",
                                         [from_time, interval, *params]).fetchall())
        finally:
            cursor.close()
        return hist.buckets(from_time, to_time, counts)

    # -- bulk access ----------------------------------------------------------------------
    @_held
    def count(self, project: str, logstore: str, from_time: int | None = None, to_time: int | None = None) -> int:
        ls = self._logstore(project, logstore)
        return self._scalar(f"SELECT count(*) FROM {ls.table} WHERE {TIME} >= coalesce(?, {TIME}) "
                            f"AND {TIME} < coalesce(?, {TIME} + 1)", [from_time, to_time])

    @_held
    def time_span(self, project: str, logstore: str) -> tuple[int, int] | None:
        ls = self._logstore(project, logstore)
        cursor = self._db.cursor()
        try:
            oldest, newest = cursor.execute(f"SELECT min({TIME}), max({TIME}) FROM {ls.table}").fetchone()
        finally:
            cursor.close()
        return None if oldest is None else (oldest, newest)

    @_held
    def read_raw(self, project: str, logstore: str, seq: int, limit: int, *, until: int | None = None,
                 every: tuple[int, int] | None = None) -> RawRows:
        """At most `limit` rows in arrival order from sequence number `seq`, as stored (no dict per
        row, for callers that encode them into another form), none at or past `until`.

        `every=(n, i)` keeps only the rows whose __time__ is i modulo n (how a sandbox shard holds
        its share). A call looks at a bounded range of sequence numbers (`limit` of them, times 2n
        with `every`), so it never sorts the rest of the logstore; `next_seq` is where to go on:
        just after the last row when `limit` rows came back, else the end of the range."""
        ls = self._logstore(project, logstore)
        view = ls.view
        originals = view.original_columns()
        select = ", ".join([SEQ, TIME, KEYSET, *map(quote_identifier, originals)])
        first, limit = max(0, seq), max(0, limit)
        stop = view.end_seq if until is None else min(view.end_seq, until)
        where = f"{SEQ} >= ? AND {SEQ} < ?"
        window = limit
        if every is not None:
            modulus, remainder = int(every[0]), int(every[1]) % int(every[0])
            where += f" AND ({TIME} % {modulus} + {modulus}) % {modulus} = {remainder}"
            window = limit * modulus * 2
        stop = max(first, min(stop, first + window))
        cursor = self._db.cursor()
        try:
            # A bounded range of sequence numbers (they are consecutive), rather than a top-N sort of
            # the rest of the table.
            fetched = cursor.execute(f"SELECT {select} FROM {ls.table} WHERE {where} ORDER BY {SEQ} LIMIT ?",
                                     [first, stop, limit]).fetchall()
        finally:
            cursor.close()
        next_seq = fetched[-1][0] + 1 if limit and len(fetched) == limit else stop
        return RawRows(tuple(originals), ls.keysets.keys, fetched, next_seq)

    @_held
    def read_from(self, project: str, logstore: str, seq: int, limit: int) -> tuple[list[dict[str, str]], int]:
        """Rows in arrival order from sequence number `seq` (at most `limit`), and the next seq."""
        ls = self._logstore(project, logstore)
        raw = self.read_raw(project, logstore, seq, limit)
        return self._rows(ls, list(raw.columns), raw.records), raw.next_seq

    @_held
    def seq_at(self, project: str, logstore: str, when: int | None) -> int:
        """The first sequence number whose row has __time__ >= `when`; the end when None."""
        ls = self._logstore(project, logstore)
        end = ls.view.end_seq
        if when is not None:
            first = self._scalar(f"SELECT min({SEQ}) FROM {ls.table} WHERE {TIME} >= ? AND {SEQ} < ?", [when, end])
            if first is not None:
                return first
        return end

    def _scalar(self, statement: str, params: list[Any]) -> Any:
        cursor = self._db.cursor()
        try:
            return cursor.execute(statement, params).fetchone()[0]
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            if not self._shared:
                self._db.close()

