"""`--source` files read by DuckDB itself: the flat events `ackaudit export` writes (parquet, jsonl,
csv) become a logstore without a Python object per row.

A parquet export is queried where it lies: the logstore is a view over `read_parquet`, which
rebuilds in SQL what loading the file row by row gave (`archive.load_rows` then `EventStore.append`):
the raw JSON fields `k8s`, `host`, `kubeObject` and `process` (keys as in `FIELDS`, absent fields
left out, the text `json.dumps` writes), the dotted leaf columns, `__time__`, the arrival order and
each row's keys. Which fields the file holds comes from its footer (each column's null counts),
so attaching it reads no rows but the pod labels' keys. A jsonl or csv export is first converted, in one streaming DuckDB statement, to a
typed parquet file in a temporary directory, then read the same way.

Only files shaped as `export` writes them take this path: the known column names in their own
casing, each value of its field's type. Anything else (a raw SLS export, another casing, a number
where text belongs, a row without `__time__`, a file DuckDB cannot read) makes `load` return None
and the caller reads the file the Python way, which takes any shape and names the line or row at
fault in a file that is really broken.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ackaudit.audit.fields import FIELDS, JSON_CONTAINERS, Field
from ackaudit.engine.ingest import KEYSET, MAX_TIME, SEQ, TIME, DerivedKeysets
from ackaudit.services import conversion_cache

# The keys of a raw row, in the order loading a flat event gives them (see archive._from_flat).
_TOP = tuple(f.name for f in FIELDS if f.container is None)
_KEYS = (*_TOP, *JSON_CONTAINERS)
_LISTS = frozenset({"k8s.user.groups", "kubeObject.operation.podExecOptions.command"})
_MAPS = frozenset({"k8s.pod.labels"})
_KNOWN = frozenset({TIME, "risk", *(f.name for f in FIELDS)})
# What each column holds in the typed form read here (a parquet export's types; `time` may be text).
_TYPES = {
    TIME: "BIGINT",
    **{f.name: ("VARCHAR[]" if f.name in _LISTS else "MAP(VARCHAR, VARCHAR)" if f.name in _MAPS else
                {"text": "VARCHAR", "long": "BIGINT", "bool": "BOOLEAN"}[f.value_type]) for f in FIELDS},
}
_TIME_TYPES = ("TIMESTAMP WITH TIME ZONE", "VARCHAR")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _json_key(key: str) -> str:
    """`"key":` as SQL text (json.dumps escapes the key as Python's export wrote it)."""
    return _text(json.dumps(key, ensure_ascii=False) + ":")


# -- the view over a typed parquet file -------------------------------------------------------------

def _json_value(f: Field, column: str) -> str:
    """The field's value as JSON text, as json.dumps(ensure_ascii=False) writes it."""
    if f.value_type == "long":
        return f"CAST({column} AS VARCHAR)"
    if f.value_type == "bool":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    return f"CAST(to_json({column}) AS VARCHAR)"


def _leaf_value(f: Field, column: str) -> str:
    """The field as its dotted leaf column holds it (json_extract_string of the raw JSON)."""
    if f.value_type == "text":
        return column
    return _json_value(f, column)


def _object(node: dict[str, Any], present: set[str]) -> str | None:
    """SQL building one JSON object of `node` (key -> sub-node or Field), the absent keys left out,
    NULL when every key is absent."""
    parts = []
    for key, sub in node.items():
        if isinstance(sub, dict):
            inner = _object(sub, present)
            if inner is not None:
                parts.append(f"{_json_key(key)} || {inner}")
        elif sub.name in present:
            column = _q(sub.name)
            parts.append(f"CASE WHEN {column} IS NOT NULL THEN {_json_key(key)} || {_json_value(sub, column)} END")
    if not parts:
        return None
    return f"('{{' || nullif(concat_ws(',', {', '.join(parts)}), '') || '}}')"


def _tree(container: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for f in FIELDS:
        if f.container != container:
            continue
        node = root
        for parent in f.path[:-1]:
            node = node.setdefault(parent, {})
        node[f.path[-1]] = f
    return root


def _time_text(column: str) -> str:
    """A TIMESTAMPTZ as ISO text, as archive._plain gives it: microseconds only when there are any."""
    micros = f"((epoch_us({column}) % 1000000 + 1000000) % 1000000)"
    return (f"(strftime({column}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN {micros} <> 0 "
            f"THEN '.' || lpad(CAST({micros} AS VARCHAR), 6, '0') ELSE '' END || 'Z')")


def _mask(present: set[str]) -> str:
    """A row's keys (those of _KEYS it has) as a bit mask: the id of its keyset."""
    flags = {}
    for name in _TOP:
        flags[name] = f"{_q(name)} IS NOT NULL" if name in present else "false"
    for container in JSON_CONTAINERS:
        names = [f.name for f in FIELDS if f.container == container and f.name in present]
        flags[container] = " OR ".join(f"{_q(n)} IS NOT NULL" for n in names) if names else "false"
    mask = " + ".join(f"CASE WHEN {flags[key]} THEN {1 << bit} ELSE 0 END" for bit, key in enumerate(_KEYS))
    return f"CAST({mask} AS INTEGER)"


def _view_select(relation: str, types: dict[str, str], present: set[str], labels: list[str]) -> str:
    """The statement a logstore view runs over `relation` (a parquet read with file_row_number)."""
    containers = {container: _object(_tree(container), present) for container in JSON_CONTAINERS}
    columns = [f"file_row_number AS {SEQ}", f"{_q(TIME)} AS {TIME}", f"{_mask(present)} AS {KEYSET}"]
    for name in _TOP:
        if name in present:
            value = _time_text(_q(name)) if name == "time" and types[name] != "VARCHAR" else _q(name)
            columns.append(f"{value} AS {_q(name.lower())}")
    for container, built in containers.items():
        if built is not None:
            columns.append(f"{built} AS {_q(container.lower())}")
    for f in FIELDS:
        if f.container is None or f.name not in present or f.name in _MAPS:
            continue
        columns.append(f"{_leaf_value(f, _q(f.name))} AS {_q(f.name.lower())}")
    by_column: dict[str, list[str]] = {}
    for key in labels:              # the leaves of the labels object, one column per key
        by_column.setdefault(f"k8s.pod.labels.{key}".lower(), []).append(f"{_q('k8s.pod.labels')}[{_text(key)}]")
    for column, values in by_column.items():
        columns.append(f"{values[0] if len(values) == 1 else 'coalesce(' + ', '.join(values) + ')'} AS {_q(column)}")
    if "k8s.pod.labels" in present and not labels:    # only empty objects: loading gives the object as a leaf
        columns.append(f"CAST(to_json({_q('k8s.pod.labels')}) AS VARCHAR) AS {_q('k8s.pod.labels')}")
    return f"SELECT {', '.join(columns)} FROM {relation}"


def _keyset_keys(mask: int) -> tuple[str, ...]:
    return tuple(key for bit, key in enumerate(_KEYS) if mask & (1 << bit))


def _footer_shape(store: Any, path: str, fields: list[str]) -> tuple[int, set[str]] | None:
    """(rows, the fields some row has) from the file's footer alone: each column chunk's value and
    null counts. None when the footer cannot say (a chunk without a null count, or a row without
    `__time__`). A list or map column counts an empty one as a null value, so when such a column
    seems empty throughout, its rows are counted to tell."""
    counts = {name: (values, nulls) for name, values, nulls in store.run(
        f"SELECT split_part(path_in_schema, ', ', 1), sum(num_values), "
        f"CASE WHEN bool_and(stats_null_count IS NOT NULL) THEN sum(stats_null_count) END "
        f"FROM parquet_metadata({_text(path)}) GROUP BY 1")}
    rows = store.run(f"SELECT sum(num_rows) FROM parquet_file_metadata({_text(path)})")[0][0] or 0
    if any(counts.get(n, (0, None))[1] is None for n in (TIME, *fields)) or counts[TIME][1]:
        return None
    present = {n for n in fields if counts[n][0] > counts[n][1]}
    unsure = [n for n in fields if n not in present and (n in _LISTS or n in _MAPS) and counts[n][0]]
    if unsure:
        found = store.run("SELECT " + ", ".join(f"count({_q(n)})" for n in unsure) +
                          f" FROM read_parquet({_text(path)})")[0]
        present |= {n for n, c in zip(unsure, found, strict=True) if c}
    return int(rows), present


def _scanned_shape(store: Any, path: str, fields: list[str]) -> tuple[int, set[str]] | None:
    """_footer_shape by reading every row."""
    counts = "".join(f", count({_q(n)})" for n in fields)
    row = store.run(f"SELECT count(*), count({_q(TIME)}){counts} FROM read_parquet({_text(path)})")[0]
    if row[1] != row[0]:
        return None
    return row[0], {n for n, c in zip(fields, row[2:], strict=True) if c}


def _attach_parquet(store: Any, project: str, logstore: str, path: str) -> int | None:
    """The logstore as a view over a typed parquet file; None when the file is not shaped like an export."""
    relation = f"read_parquet({_text(path)}, file_row_number = true)"
    types = dict(store.run(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                            f"read_parquet({_text(path)}))"))
    if not set(types) <= _KNOWN or TIME not in types or "file_row_number" in types:
        return None
    for name, kind in types.items():
        wanted = _TIME_TYPES if name == "time" else (kind,) if name == "risk" else (_TYPES[name],)
        if kind not in wanted:
            return None
    oldest, newest = store.run(f"SELECT min({_q(TIME)}), max({_q(TIME)}) FROM read_parquet({_text(path)})")[0]
    if oldest is not None and not (0 <= oldest and newest <= MAX_TIME):
        return None                         # the Python way names the row with a time SLS cannot hold
    fields = [n for n in types if n not in (TIME, "risk")]
    # Which fields some row has, from the footer when it can say. A row's keyset id is the mask of
    # the keys it has (a field no row has is NULL throughout), its keys worked out when first read.
    shape = _footer_shape(store, path, fields) or _scanned_shape(store, path, fields)
    if shape is None:
        return None                         # a row takes its time from `time`: the Python way
    _, present = shape
    labels: list[str] = []
    if "k8s.pod.labels" in present:
        labels = [k for (k,) in store.run(f"SELECT DISTINCT unnest(map_keys({_q('k8s.pod.labels')})) AS k "
                                           f"FROM read_parquet({_text(path)}) ORDER BY k")
                  if k and '"' not in k and "\\" not in k]     # as leaf_paths: a JSON path must address it
    select = _view_select(relation, types, present, labels)
    possible = [k for k in _TOP if k in present] + \
        [c for c in JSON_CONTAINERS if any(f.container == c and f.name in present for f in FIELDS)]
    return store.attach_view(project, logstore, select, DerivedKeysets(_keyset_keys, possible))


# -- jsonl and csv to typed parquet ------------------------------------------------------------------

def _bad(what: str) -> str:
    return f"error({_text('not as export writes it: ' + what)})"


def _from_json(f_name: str, column: str) -> str:
    """A JSON value (as read_json gives a JSON column) as its field's typed value; an error for
    anything loading it the Python way could give differently."""
    kind = "time" if f_name == TIME else "list" if f_name in _LISTS else "map" if f_name in _MAPS else \
        next(f.value_type for f in FIELDS if f.name == f_name)
    t = f"json_type({column})"
    if kind == "time":
        # UINTEGER holds exactly the times SLS can (0 to MAX_TIME).
        return (f"CASE WHEN {t} IN ('BIGINT', 'UBIGINT') AND TRY_CAST({column} AS UINTEGER) IS NOT NULL "
                f"THEN CAST({column} AS BIGINT) ELSE {_bad(TIME)} END")
    if kind == "text":
        # A JSON string's text starts with its quote, which is cheaper to see than its json_type.
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN starts_with(CAST({column} AS VARCHAR), '\"') "
                f"THEN {column} ->> '$' ELSE {_bad(f_name)} END")
    if kind == "long":
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {t} IN ('BIGINT', 'UBIGINT') THEN CAST({column} AS BIGINT) "
                f"ELSE {_bad(f_name)} END")
    if kind == "bool":
        return f"CASE WHEN {column} IS NULL THEN NULL WHEN {t} = 'BOOLEAN' THEN CAST({column} AS BOOLEAN) ELSE {_bad(f_name)} END"
    if kind == "list":
        items = f"CAST({column} AS JSON[])"
        strings = f"coalesce(list_bool_and(list_transform({items}, lambda e: coalesce(json_type(e) = 'VARCHAR', true))), true)"
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {t} = 'ARRAY' AND {strings} "
                f"THEN list_transform({items}, lambda e: e ->> '$') ELSE {_bad(f_name)} END")
    # Every value a string: the types of all the values at once, rather than a lambda over the
    # entries (a third of the time).
    others = "['BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN', 'OBJECT', 'ARRAY', 'NULL']"
    return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {t} = 'OBJECT' AND NOT list_has_any(json_type({column}, '$.*'), "
            f"{others}) THEN CAST({column} AS MAP(VARCHAR, VARCHAR)) ELSE {_bad(f_name)} END")


def _jsonl_statement(path: str, out: str) -> str:
    columns = {name: "JSON" for name in (TIME, *(f.name for f in FIELDS), *JSON_CONTAINERS)}
    raw = " OR ".join(f"{_q(c)} IS NOT NULL" for c in JSON_CONTAINERS)
    values = [f"CASE WHEN {raw} THEN {_bad('a raw row')} ELSE {_from_json(TIME, _q(TIME))} END AS {_q(TIME)}"]
    values += [f"{_from_json(f.name, _q(f.name))} AS {_q(f.name)}" for f in FIELDS]
    spec = "{" + ", ".join(f"{_text(k)}: {_text(v)}" for k, v in columns.items()) + "}"
    return (f"COPY (SELECT {', '.join(values)} FROM read_json({_text(path)}, format = 'newline_delimited', "
            f"columns = {spec})) TO {_text(out)} (FORMAT parquet, ROW_GROUP_SIZE 20000)")


def _jsonl_nulls(path: str) -> str:
    """How many lines hold a JSON null other than `"risk": null`: read_json cannot tell a null from
    a missing key, and the Python way keeps a null field (as null). The lines are read as one text
    column (\x1f never occurs unescaped in JSON); a null in a string's text is only a false alarm."""
    cleared = "replace(replace(line, '\"risk\":null', ''), '\"risk\": null', '')"
    return (f"SELECT count(*) FROM read_csv({_text(path)}, columns = {{'line': 'VARCHAR'}}, header = false, "
            f"delim = {_text(chr(0x1F))}, quote = '', escape = '', auto_detect = false, "
            f"max_line_size = 8388608, buffer_size = 8388608) WHERE contains({cleared}, 'null') "
            f"AND regexp_matches({cleared}, ':[[:space:]]*null')")


def _convert(store: Any, kind: str, source: str, header: list[str], out: str) -> bool:
    """Convert the jsonl or csv file `source` to the typed parquet file `out`; False when it must be
    read the Python way. With one DuckDB thread (FileSource's) the file streams through in order,
    one row group at a time (more threads would buffer rows to keep that order); a jsonl file's
    null count runs meanwhile on a core of its own (a count: the order does not matter)."""
    if kind == "csv":
        store.run(_csv_statement(source, header, out))
        return True
    counting = store.start(_jsonl_nulls(source))
    try:
        store.run(_jsonl_statement(source, out))
    except BaseException:
        counting.cancel()
        raise
    return not counting.result()[0][0]


@contextlib.contextmanager
def _every_core(store: Any) -> Iterator[None]:
    """DuckDB with every core for a while (a FileSource's statements each get one thread, but while
    a file is attached nothing else runs)."""
    threads = int(store.run("SELECT current_setting('threads')")[0][0])
    store.run("RESET threads")
    try:
        yield
    finally:
        store.run(f"SET threads = {threads}")


def _csv_header(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not header or len(set(header)) != len(header) or not set(header) <= _KNOWN or TIME not in header:
        return None
    return header


def _csv_statement(path: str, header: list[str], out: str) -> str:
    """As archive._csv_rows reads a csv: one leading `'` undone (csv_value), an empty cell absent
    unless it is text beside other values of its object (_csv_present), then typed (flatten_event)."""
    cell = {n: f"(CASE WHEN starts_with(coalesce({_q(n)}, ''), '''') THEN {_q(n)}[2:] "
               f"ELSE coalesce({_q(n)}, '') END)" for n in header}
    parent = {n: n.rsplit(".", 1)[0] for n in header if "." in n}
    values = []
    for f in FIELDS:
        if f.name not in header:
            continue
        v = cell[f.name]
        present = f"{v} <> ''"
        if f.value_type == "text" and f.name in parent:
            siblings = [cell[o] for o in header if o != f.name and parent.get(o) == parent[f.name]]
            if siblings:
                present = " OR ".join([present, *(f"{s} <> ''" for s in siblings)])
        if f.value_type == "text":
            typed = v
        elif f.value_type == "long":
            typed = f"CASE WHEN regexp_full_match({v}, '-?[0-9]{{1,18}}') THEN CAST({v} AS BIGINT) ELSE {_bad(f.name)} END"
        elif f.value_type == "bool":
            typed = f"lower({v}) = 'true'"
        else:
            typed = f"(CASE WHEN json_valid({v}) THEN {_from_json(f.name, f'CAST({v} AS JSON)')} ELSE {_bad(f.name)} END)"
        values.append(f"CASE WHEN {present} THEN {typed} END AS {_q(f.name)}")
    t = cell[TIME]
    values.insert(0, f"CASE WHEN regexp_full_match({t}, '[0-9]+') AND TRY_CAST({t} AS UINTEGER) IS NOT NULL "
                     f"THEN CAST({t} AS BIGINT) ELSE {_bad(TIME)} END AS {_q(TIME)}")
    spec = "{" + ", ".join(f"{_text(n)}: 'VARCHAR'" for n in header) + "}"
    return (f"COPY (SELECT {', '.join(values)} FROM read_csv({_text(path)}, header = true, auto_detect = false, "
            f"columns = {spec}, delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
            f"max_line_size = 8388608, buffer_size = 16777216)) TO {_text(out)} (FORMAT parquet, ROW_GROUP_SIZE 20000)")


# -- the entry point ---------------------------------------------------------------------------------

def load(store: Any, project: str, logstore: str, path: str, kind: str, workdir: str) -> int | None:
    """Attach the file at `path` (kind: parquet, jsonl or csv) as the logstore; the number of events,
    or None when the file must be read the Python way (the logstore is then left empty)."""
    import duckdb

    base = os.path.join(workdir, "events.parquet")
    # A link of a fixed name: DuckDB reads globs and URLs in file names.
    source = os.path.join(workdir, f"source.{kind}")
    try:
        os.symlink(os.path.abspath(path), source)
        if kind not in ("jsonl", "csv"):
            with _every_core(store):
                return _attach_parquet(store, project, logstore, source)
        name = conversion_cache.identity(path, kind)
        count = _attach_kept(store, project, logstore, name, workdir)
        if count is not None:
            return count
        if kind == "jsonl" and not _exported_jsonl(path):
            return None
        header = _csv_header(path) if kind == "csv" else []
        if header is None:
            return None
        if not _convert(store, kind, source, header, base):
            return None
        with _every_core(store):
            count = _attach_parquet(store, project, logstore, base)
        if count is not None and conversion_cache.identity(path, kind) == name:   # unchanged meanwhile
            conversion_cache.keep(name, Path(base))
        return count
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except (duckdb.Error, OSError):     # the Python way says what is wrong, and where
        return None


def _attach_kept(store: Any, project: str, logstore: str, name: str | None, workdir: str) -> int | None:
    """The logstore as a view over the conversion kept from an earlier command, if there is one
    that attaches; one that does not is forgotten."""
    import duckdb

    kept = conversion_cache.lookup(name)
    if kept is None:
        return None
    link = os.path.join(workdir, "kept.parquet")      # a fixed name, as for the source
    try:
        os.symlink(kept, link)
        with _every_core(store):
            count = _attach_parquet(store, project, logstore, link)
    except (duckdb.Error, OSError):
        count = None
    if count is None:
        conversion_cache.forget(name)
    return count


def _exported_jsonl(path: str) -> bool:
    """Whether the file looks like a jsonl export: JSON lines, the first an object with only the
    export's keys in their own casing (another tool's casing, or a JSON list, is read the Python way)."""
    with open(path, "rb") as handle:
        if handle.read(4096).lstrip().startswith(b"["):
            return False
        handle.seek(0)
        for line in handle:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return False
                return isinstance(first, dict) and set(first) <= _KNOWN
    return True


def file_kind(path: Path) -> str:
    """How `archive.load_rows` reads the file: parquet, csv, or json (lists and lines)."""
    from ackaudit.services.archive import _PARQUET_MAGIC, _starts_with

    if path.suffix.lower() == ".parquet" or _starts_with(path, _PARQUET_MAGIC):
        return "parquet"
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"
