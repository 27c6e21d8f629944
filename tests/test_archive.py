"""Export files and FileSource without a sandbox: formats, the flat <-> raw round trip, safety of writes."""

import json
import os
import random
import weakref
from datetime import datetime, timezone

import pytest

from ackaudit.audit.redact import redact_event
from ackaudit.audit.risky import builtin_catalogue
from ackaudit.errors import UsageError
from ackaudit.sandbox.generate import generate_events
from ackaudit.services.archive import (
    FileSource,
    csv_columns,
    export_events,
    format_of,
    load_rows,
    window_for,
)
from ackaudit.services.files import output_target
from ackaudit.services.investigate import to_event

START = 1_795_000_000
END = START + 86400


@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def rows():
    return list(generate_events(300, seed=7, start=START, end=END))


def write(rows, path, fmt, **kwargs):
    force = kwargs.pop("force", False)
    options = {"redact": True, "catalogue": builtin_catalogue(), "csv_order": ["time", "kind"]}
    return export_events(iter(rows), output_target(str(path), force=force), fmt, START, END, **{**options, **kwargs})


def search(source, query, reverse=False):
    return [r["eventId"] for r in source.get(query, START, END + 1, line=100, reverse=reverse).rows]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_format_reads_back_to_the_same_events(rows, tmp_path, fmt):
    path = tmp_path / f"events.{fmt}"
    result = write(rows, path, fmt)
    assert result.events == len(rows) and result.bytes == path.stat().st_size
    source = FileSource(str(path))
    assert source.count == len(rows)
    assert source.span == (min(r["__time__"] for r in rows), max(r["__time__"] for r in rows))
    back = {}
    for offset in range(0, len(rows), 100):
        for row in source.get("*", START, END + 1, offset=offset).rows:
            back[row["eventId"]] = to_event(row)
    assert back == {r["eventId"]: redact_event(to_event(r)) for r in rows}


def test_dotted_keys_and_sql_work_on_a_file(rows, tmp_path):
    path = tmp_path / "events.csv"
    write(rows, path, "csv")
    source = FileSource(str(path))
    commands = [r for r in rows if r["kind"] == "Command"]
    name = json.loads(commands[0]["process"])["name"]
    expected = [r["eventId"] for r in commands if json.loads(r["process"])["name"] == name]
    assert sorted(search(source, f'process.name: "{name}"')) == sorted(expected[:100])
    count = source.get("kind: Command | select count(1) as n", START, END + 1).rows
    assert int(count[0]["n"]) == len(commands)


def test_an_unindexed_key_is_refused_as_on_the_cluster(rows, tmp_path):
    path = tmp_path / "events.jsonl"
    write(rows, path, "jsonl")
    with pytest.raises(Exception) as caught:
        FileSource(str(path)).get("nosuchfield: x", START, END)
    assert caught.value.exit_code == 2 and "nosuchfield" in caught.value.message


def test_csv_empty_cells_absent_unless_beside_their_siblings(tmp_path):
    service_account = {"__time__": START, "kind": "Command", "time": "2026-11-20T00:00:00.000Z", "eventId": "e1",
                       "k8s": json.dumps({"user": {"username": "system:serviceaccount:ci:deployer", "aliuid": ""}}),
                       "process": json.dumps({"name": "ls", "pid": 3})}
    path = tmp_path / "sa.csv"
    write([service_account], path, "csv")
    raw = next(load_rows(str(path)))
    assert json.loads(raw["k8s"]) == {"user": {"username": "system:serviceaccount:ci:deployer", "aliuid": ""}}
    assert "host" not in raw and "kubeObject" not in raw and "clusterid" not in raw
    # A csv cannot tell absent from empty: text beside other values of its object comes back empty.
    assert json.loads(raw["process"]) == {"name": "ls", "cmdline": "", "cwd": "", "pid": 3, "parentName": ""}


def test_raw_rows_keep_every_field(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"__time__": START, "__tag__:__hostname__": "node-1", "kind": "Command",
                                "process": {"name": "ls", "extra": {"deep": 1}}, "custom": True}) + "\n")
    raw = next(load_rows(str(path)))
    assert raw == {"__time__": str(START), "__tag__:__hostname__": "node-1", "kind": "Command",
                   "process": '{"name":"ls","extra":{"deep":1}}', "custom": "true"}


def test_the_time_is_taken_from_time_when_there_is_no_log_time(tmp_path):
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps({"time": "2026-11-20T01:02:03.999+08:00", "kind": "Command"}) + "\n")
    expected = datetime(2026, 11, 19, 17, 2, 3, tzinfo=timezone.utc).timestamp()
    assert next(load_rows(str(path)))["__time__"] == str(int(expected))


def test_a_failing_read_leaves_no_file(rows, out_dir):
    def broken():
        yield from rows[:50]
        raise ConnectionError("the network went away")

    for fmt in ("jsonl", "csv", "parquet"):
        with pytest.raises(ConnectionError):
            export_events(broken(), output_target(str(out_dir / f"x.{fmt}"), force=False), fmt, START, END,
                          redact=True, catalogue={}, csv_order=[])
    assert os.listdir(out_dir) == []


def test_ctrl_c_leaves_no_file_and_keeps_the_old_one(rows, out_dir):
    old = out_dir / "x.parquet"
    old.write_bytes(b"the previous export")

    def interrupted():
        yield from rows[:10]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write(interrupted(), old, "parquet", force=True)
    assert os.listdir(out_dir) == ["x.parquet"] and old.read_bytes() == b"the previous export"


class Row(dict):
    """A row that can be watched with a weak reference."""


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_rows_are_streamed_not_held(out_dir, fmt):
    """However many events, the export holds on to none of the rows it has written."""
    alive = []

    def rows():
        for row in generate_events(3000, seed=1, start=START, end=END):
            alive.append(weakref.ref(watched := Row(row)))
            yield watched
            del watched
            assert sum(ref() is not None for ref in alive[-200:]) <= 2

    result = write(rows(), out_dir / f"stream.{fmt}", fmt)
    assert result.events == 3000


def test_format_of():
    assert format_of("a/b.JSONL", None) == "jsonl" and format_of("x.ndjson", None) == "jsonl"
    assert format_of("x.parquet", None) == "parquet" and format_of("x.txt", "csv") == "csv"
    for path, given in (("x.txt", None), ("x.csv", "xml"), ("x.jsonl", "csv"), ("x.json", "jsonl")):
        with pytest.raises(UsageError):
            format_of(path, given)


def test_csv_columns_keep_the_given_order_then_the_rest():
    columns = csv_columns(["time", "risk", "kind"])
    assert columns[:3] == ["time", "risk", "kind"]
    assert "__time__" in columns and "k8s.pod.labels" in columns and len(columns) == len(set(columns))


def test_window_for_a_file_is_the_whole_file_unless_given(rows, tmp_path):
    path = tmp_path / "events.jsonl"
    write(rows, path, "jsonl")
    source = FileSource(str(path))
    whole = window_for(source, since=None, from_=None, to=None, default="24h", now=END + 30 * 86400)
    assert whole == (source.span[0], source.span[1] + 1)
    given = window_for(source, since=None, from_=str(START + 10), to=str(START + 20), default="24h", now=END)
    assert given == (START + 10, START + 20)


def test_files_in_random_order_are_searched_by_time(rows, tmp_path):
    shuffled = list(rows)
    random.Random(3).shuffle(shuffled)
    path = tmp_path / "shuffled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in shuffled))
    source = FileSource(str(path))
    newest = sorted(rows, key=lambda r: (r["__time__"],), reverse=True)[0]
    assert source.get("*", START, END + 1, line=1, reverse=True).rows[0]["__time__"] == str(newest["__time__"])


def test_pulled_log_groups_decode_into_rows_even_with_bad_bytes():
    from aliyun.log.proto import LogGroupList, LogGroupListRaw

    from ackaudit.cloud.sls import _rows_of

    for message, value, expected in ((LogGroupList, "ls -la", "ls -la"), (LogGroupListRaw, b"ls \xff", "ls \ufffd")):
        groups = message()
        group = groups.LogGroups.add()
        group.Source, group.Topic = "10.0.1.2", ""
        tag = group.LogTags.add()
        tag.Key, tag.Value = "__hostname__", "node-1"
        log = group.Logs.add()
        log.Time = START
        content = log.Contents.add()
        content.Key, content.Value = "cmd", value
        assert _rows_of(groups) == [{"cmd": expected, "__source__": "10.0.1.2", "__topic__": "",
                                     "__tag__:__hostname__": "node-1", "__time__": str(START)}]


# -- exported files are read by DuckDB itself, with the answers of reading them row by row ------------

def python_store(path):
    """The file loaded the Python way (load_rows, then the engine's ingest), as FileSource did before."""
    from ackaudit.audit.index import bundled_index
    from ackaudit.engine import EventStore

    store = EventStore(None, max_lines=FileSource.page_size)
    store.set_index("file", "f", bundled_index())
    store.append("file", "f", load_rows(str(path)))
    return store


SEARCHES = ["*", "kind: Command", "process.pid > 100 and not process.name: sh", "k8s.user.groups: system",
            "kubeObject.operation.podExecOptions.tty: true", "k8s.pod.labels.app: *", "tmp", "mysql or curl"]


def assert_answers_alike(source, store):
    view = source._store._logstores[("file", source._logstore)].view
    loaded = store._logstores[("file", "f")].view
    # The same columns (the labels' leaves come in the order json_group_structure finds them).
    assert sorted(view.columns) == sorted(loaded.columns) and view.originals == loaded.originals
    def answer(get, *args, **kwargs):
        try:
            return get(*args, **kwargs).rows
        except Exception as exc:       # an unindexed key, say: the same refusal both ways
            return getattr(exc, "message", str(exc)).rsplit(": ", 1)[-1]

    for search in SEARCHES:
        for reverse in (False, True):
            got = answer(source.get, search, START, END + 1, line=FileSource.page_size, reverse=reverse)
            assert got == answer(store.query, "file", "f", search, START, END + 1, line=FileSource.page_size,
                                 reverse=reverse), search
    every = ", ".join(f'"{c}"' for c in loaded.columns)
    sql = f"* | select __time__, {every} order by eventid, __time__ limit 100000"
    assert source.get(sql, START, END + 1).rows == store.query("file", "f", sql, START, END + 1).rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_export_is_read_by_duckdb_with_the_same_answers(rows, tmp_path, fmt):
    path = tmp_path / f"events.{fmt}"
    write(rows, path, fmt, redact=False)
    source = FileSource(str(path))
    assert source.read_by == "duckdb"
    assert_answers_alike(source, python_store(path))
    assert source.span == python_store(path).time_span("file", "f")


def flat_lines(rows, **changes):
    """Flat events as a jsonl export holds them, with `changes` applied to the first Command event."""
    from ackaudit.audit.fields import flatten_event
    from ackaudit.services.investigate import full_time

    events = [full_time(flatten_event(r)) for r in rows]
    first = next(e for e in events if e["kind"] == "Command")
    for key, value in changes.items():
        if value is None:
            first.pop(key, None)
        else:
            first[key] = value
    return "".join(json.dumps(e) + "\n" for e in events)


@pytest.mark.parametrize(("changes", "read_by"), [
    ({}, "duckdb"),
    ({"process.pid": "123"}, "python"),                       # a number as text
    ({"process.name": 42}, "python"),                         # text as a number
    ({"k8s.user.groups": ["a", 1]}, "python"),
    ({"k8s.pod.labels": {"app": {"deep": 1}}}, "python"),
    ({"k8s.pod.labels": {"app": "web", "tier": 2}}, "python"),
    ({"k8s.pod.labels": {"app": True}}, "python"),
    ({"k8s.pod.labels": {"app": ["web"]}}, "python"),
    ({"k8s.pod.labels": ["app"]}, "python"),
    ({"k8s.pod.labels": "app=web"}, "python"),
    ({"k8s.pod.labels": {"a\"pp": "w\\eb", "": "x"}}, "duckdb"),
    ({"process.name": {"name": "ls"}}, "python"),
    ({"process.name": ["ls"]}, "python"),
    ({"process.name": True}, "python"),
    ({"process.name": "\"quoted\" \\ \u0001"}, "duckdb"),
    ({"k8s.user.aliuid": ""}, "duckdb"),                      # empty text is kept
    ({"k8s.pod.labels": {}}, "duckdb"),
    ({"process.user.uid": None, "host.hostip": None}, "duckdb"),
    ({"__time__": 1_795_000_000.7}, "python"),
    ({"__time__": None}, "python"),                           # the time from `time`
    ({"process": {"name": "ls"}}, "python"),                  # a raw row among flat ones
])
def test_jsonl_not_shaped_as_an_export_is_read_the_python_way(rows, tmp_path, changes, read_by):
    path = tmp_path / "events.jsonl"
    path.write_text(flat_lines(rows, **changes), encoding="utf-8")
    source = FileSource(str(path))
    assert source.read_by == read_by
    assert_answers_alike(source, python_store(path))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("empty", ["k8s.user.groups", "k8s.pod.labels", "kubeObject.operation.podExecOptions.command"])
def test_a_list_or_map_empty_in_every_row_is_still_there(rows, tmp_path, fmt, empty):
    """A parquet footer counts an empty list or map as a null: such a field is present all the same."""
    from ackaudit.audit.fields import flatten_event
    from ackaudit.services.investigate import full_time

    events = [full_time(flatten_event(r)) for r in rows]
    for event in events:
        if empty in event:
            event[empty] = [] if empty != "k8s.pod.labels" else {}
    path = tmp_path / "empty.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    if fmt == "parquet":
        from ackaudit.services.archive import copy_to_parquet

        copy_to_parquet([path], tmp_path / "empty.parquet")
        path = tmp_path / "empty.parquet"
    source = FileSource(str(path))
    assert source.read_by == "duckdb"
    assert_answers_alike(source, python_store(path))
    hit = source.get(f"{empty}: *", START, END + 1, line=1).rows
    assert hit, f"no row keeps its empty {empty}"


def test_a_parquet_footer_without_counts_is_read_by_counting_rows(rows, tmp_path, monkeypatch):
    from ackaudit.services import archive_sql

    path = tmp_path / "events.parquet"
    write(rows, path, "parquet", redact=False)
    monkeypatch.setattr(archive_sql, "_footer_shape", lambda *args: None)
    source = FileSource(str(path))
    assert source.read_by == "duckdb"
    assert_answers_alike(source, python_store(path))


@pytest.mark.parametrize("odd", ['{"note": "a key no export writes"}', '["a", "list"]', '"text"', "not json"])
def test_a_line_unlike_the_first_reads_as_the_python_way_reads_it(rows, tmp_path, odd):
    """Only the first line is looked at before the conversion. A later flat event with a key an export
    does not write loses it either way (flat events are read by their known fields); a later line
    that is not an object is named either way."""
    lines = flat_lines(rows).splitlines(keepends=True)
    if odd.startswith("{"):
        extra = json.loads(lines[3])
        extra.update(json.loads(odd))
        lines[3] = json.dumps(extra) + "\n"
    else:
        lines.insert(3, odd + "\n")
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    if odd.startswith("{"):
        source = FileSource(str(path))
        assert source.read_by == "duckdb"
        assert_answers_alike(source, python_store(path))
        assert not any("note" in r for r in source.get("*", START, END + 1, line=FileSource.page_size).rows)
    else:
        with pytest.raises(UsageError, match="line 4"):
            FileSource(str(path))


def test_files_of_other_tools_are_read_the_python_way(rows, tmp_path):
    import duckdb

    cased = tmp_path / "cased.jsonl"
    cased.write_text(flat_lines(rows).replace('"kind"', '"Kind"'), encoding="utf-8")
    extra = tmp_path / "extra.csv"
    extra.write_text("time,__time__,kind,note\n2026-11-20T00:00:00.000Z,1795000000,Command,x\n", encoding="utf-8")
    other = tmp_path / "other.parquet"
    with duckdb.connect() as db:
        db.execute(f"COPY (SELECT 1795000000 AS __time__, 'Command' AS kind, 7 AS \"process.name\") TO '{other}'")
    for path in (cased, extra, other):
        source = FileSource(str(path))
        assert source.read_by == "python", path
        assert_answers_alike(source, python_store(path))


def test_an_empty_export_is_empty(tmp_path):
    for name, text in (("empty.jsonl", ""), ("empty.csv", "time,__time__,kind\n")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        source = FileSource(str(path))
        assert source.count == 0 and source.span is None
        assert source.get("*", START, END).rows == []


def test_hostile_values_survive_the_sql_path(rows, tmp_path):
    """Quotes, backslashes, control and non-ASCII characters, formula starts: the JSON text and every
    answer as the Python way gives them."""
    hostile = 'rm -rf "/" \\ \n\t\x01\x7f é 😀 \u202e =cmd|\' /C calc\'!A0 \'quoted'
    for fmt in ("jsonl", "csv", "parquet"):
        changed = [dict(r) for r in rows]
        for row in changed:
            if row["kind"] == "Command":
                process = json.loads(row["process"])
                process["cmdline"] = hostile
                process["cwd"] = "=1+1"
                row["process"] = json.dumps(process)
        path = tmp_path / f"hostile.{fmt}"
        write(changed, path, fmt, redact=False, force=True)
        source = FileSource(str(path))
        assert source.read_by == "duckdb"
        assert_answers_alike(source, python_store(path))


def test_a_null_field_is_read_the_python_way(rows, tmp_path):
    """A field written as null (a null leaf in the raw JSON) stays there as null, which DuckDB's
    reader cannot tell from a missing key."""
    path = tmp_path / "nulls.jsonl"
    path.write_text(flat_lines(rows).replace('"process.cwd": ', '"process.cwd": null, "was": ', 1), encoding="utf-8")
    source = FileSource(str(path))
    assert source.read_by == "python"
    assert_answers_alike(source, python_store(path))
    assert any('"cwd":null' in row.get("process", "") for row in source.get("*", START, END + 1, line=1000).rows)


# -- a jsonl or csv conversion is kept for the next command on the same file ------------------------

def _conversions():
    from ackaudit.services.conversion_cache import cache_dir

    folder = cache_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_converted_file_is_not_converted_again(rows, tmp_path, monkeypatch, fmt):
    from ackaudit.services import archive_sql

    path = tmp_path / f"events.{fmt}"
    write(rows, path, fmt, redact=False)
    first = FileSource(str(path))
    assert first.read_by == "duckdb" and len(_conversions()) == 1
    expected = python_store(path)
    first.close()

    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(archive_sql, "_jsonl_statement", no_conversion)
    monkeypatch.setattr(archive_sql, "_csv_statement", no_conversion)
    again = FileSource(str(path))
    assert again.read_by == "duckdb"
    assert_answers_alike(again, expected)


def test_a_changed_file_is_converted_again(rows, tmp_path):
    path = tmp_path / "events.jsonl"
    write(rows, path, "jsonl", redact=False)
    assert FileSource(str(path)).count == len(rows)
    with open(path, "a", encoding="utf-8") as out:       # one more event, the same as the last
        out.write(path.read_text(encoding="utf-8").splitlines(keepends=True)[-1])
    source = FileSource(str(path))
    assert source.count == len(rows) + 1 and len(_conversions()) == 2
    assert_answers_alike(source, python_store(path))


def test_a_broken_kept_conversion_is_forgotten(rows, tmp_path):
    from ackaudit.services.conversion_cache import cache_dir

    path = tmp_path / "events.jsonl"
    write(rows, path, "jsonl", redact=False)
    FileSource(str(path)).close()
    [name] = _conversions()
    (cache_dir() / name).write_bytes(b"PAR1 not a parquet file")
    source = FileSource(str(path))
    assert source.read_by == "duckdb"
    assert_answers_alike(source, python_store(path))
    assert (cache_dir() / name).read_bytes().startswith(b"PAR1") and (cache_dir() / name).stat().st_size > 100


def test_nothing_is_kept_with_a_budget_of_zero(rows, tmp_path, monkeypatch):
    monkeypatch.setenv("ACKAUDIT_SOURCE_CACHE_MB", "0")
    path = tmp_path / "events.jsonl"
    write(rows, path, "jsonl", redact=False)
    assert FileSource(str(path)).read_by == "duckdb"
    assert _conversions() == []


def test_the_least_recently_used_conversions_go_first(tmp_path):
    from ackaudit.services.conversion_cache import IN_USE_SECONDS, cache_dir, prune

    folder = cache_dir()
    folder.mkdir(parents=True)
    now = 2_000_000_000
    a, b, c = (f"{letter * 40}.parquet" for letter in "abc")

    def fill():
        for name, age in ((a, 3 * IN_USE_SECONDS), (b, 2 * IN_USE_SECONDS), (c, IN_USE_SECONDS // 2)):
            entry = folder / name
            entry.write_bytes(b"x" * 600_000)
            os.utime(entry, (now - age, now - age))

    fill()
    (folder / "notes.txt").write_bytes(b"y" * 5_000_000)           # not an entry: never removed
    prune(1.0, now=now)                                              # 1 MB: the oldest two go
    assert sorted(p.name for p in folder.iterdir()) == [c, "notes.txt"]
    fill()
    prune(0.0, keep_name=a, now=now)     # nothing fits: all but the one kept and the one just used
    assert sorted(p.name for p in folder.iterdir()) == [a, c, "notes.txt"]
