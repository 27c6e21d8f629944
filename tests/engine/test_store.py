"""EventStore storage: ingest and flattening, result rows, paging, index rules, bulk export, reopening."""

from __future__ import annotations

import json
import threading

import pytest

from ackaudit.engine import EventStore, QueryError


def test_values_arrive_as_strings_and_composites_as_json(engine):
    engine.append({"__time__": engine.T0, "s": "x", "n": 7, "f": 1.5, "b": True, "k8s": {"pod": {"name": "p"}},
                   "l": ["a", 1], "none": None})
    [row] = engine.search("*")
    assert row == {"__time__": str(engine.T0), "__source__": "", "s": "x", "n": "7", "f": "1.5", "b": "true",
                   "k8s": '{"pod":{"name":"p"}}', "l": '["a",1]'}


def test_search_rows_keep_original_keys_only(audit):
    [row] = audit.search("process.name: rm")
    assert set(row) == {"__time__", "__source__", "kind", "clusterid", "time", "traceId", "eventId", "k8s",
                        "process", "host"}
    assert json.loads(row["process"])["cmdline"] == "rm -rf /tmp/a.txt"


def test_json_fields_are_flattened_into_leaf_columns(engine):
    engine.append({"__time__": engine.T0, "obj": json.dumps(
        {"a": {"b": 1, "c": True, "d": [1, "x"], "e": None, "f": {"g": "deep"}}, "s": "text"})})
    [row] = engine.sql('* | select "obj.a.b", "obj.a.c", "obj.a.d", "obj.a.e", "obj.a.f.g", "obj.s"')
    assert row == {"obj.a.b": "1", "obj.a.c": "true", "obj.a.d": '[1,"x"]', "obj.a.e": "null",
                   "obj.a.f.g": "deep", "obj.s": "text"}
    [hit] = engine.search("obj.a.f.g: deep")
    assert set(hit) == {"__time__", "__source__", "obj"} and json.loads(hit["obj"])["s"] == "text"
    assert engine.search("obj.a.f.g: shallow") == []


def test_schema_grows_with_new_keys(engine):
    engine.append({"__time__": engine.T0, "a": "1"})
    engine.append({"__time__": engine.T0 + 1, "b": "2", "j": json.dumps({"new": {"leaf": "v"}})})
    assert engine.sql("* | select a, b, \"j.new.leaf\" order by __time__") == [
        {"a": "1", "b": "null", "j.new.leaf": "null"}, {"a": "null", "b": "2", "j.new.leaf": "v"}]


def test_keys_differing_only_in_case_share_a_column(engine):
    engine.append({"__time__": engine.T0, "Kind": "A"}, {"__time__": engine.T0 + 1, "kind": "B"})
    engine.append({"__time__": engine.T0 + 2, "KIND": "C", "kind": "ignored"})
    assert engine.search("*") == [
        {"__time__": str(engine.T0), "__source__": "", "Kind": "A"},
        {"__time__": str(engine.T0 + 1), "__source__": "", "kind": "B"},
        {"__time__": str(engine.T0 + 2), "__source__": "", "KIND": "C"},
    ]
    assert [r["k"] for r in engine.sql("* | select kind as k order by __time__")] == ["A", "B", "C"]
    assert len(engine.search("kind: c")) == 1


def test_rows_need_a_time(engine):
    with pytest.raises(ValueError):
        engine.append({"kind": "x"})
    assert engine.search("*") == []


def test_time_window_is_half_open(audit):
    t0 = audit.T0
    assert len(audit.search("kind: command", window=(t0, t0 + 60))) == 1
    assert len(audit.search("kind: command", window=(t0, t0 + 61))) == 2
    assert audit.query("*", window=(t0, t0 + 61)).processed_rows == 2


def test_results_are_in_time_order_and_reverse_is_newest_first(engine):
    t0 = engine.T0
    engine.append(engine.command(t0 + 5, pod="late"), engine.command(t0, pod="first"),
                  engine.command(t0, pod="second"))
    assert engine.pods("*") == ["first", "second", "late"]
    assert engine.pods("*", reverse=True) == ["late", "second", "first"]


def test_line_is_capped_at_100_and_offset_pages(engine):
    engine.append(*(engine.command(engine.T0 + i, pod=f"p-{i}") for i in range(250)))
    assert len(engine.search("*", line=500)) == 100
    assert len(engine.search("*", line=10)) == 10
    assert engine.pods("*", offset=200, line=100) == [f"p-{i}" for i in range(200, 250)]
    assert engine.pods("*", offset=250) == []
    assert engine.pods("*", offset=0, line=2, reverse=True) == ["p-249", "p-248"]


def test_result_keys_are_the_union_of_row_keys(engine):
    engine.append({"__time__": engine.T0, "a": "1"}, {"__time__": engine.T0 + 1, "b": "2"})
    assert engine.query("*").keys == ["__time__", "__source__", "a", "b"]


INDEX = {"line": {"token": list(",;"), "caseSensitive": False, "chn": False},
         "keys": {"kind": {"type": "text", "doc_value": True},
                  "k8s": {"type": "json", "doc_value": True, "json_keys": {"pod.name": {"type": "text"}}}}}


def test_searching_a_key_that_is_neither_declared_nor_present_fails_with_an_index(audit):
    audit.store.set_index(audit.PROJECT, audit.LOGSTORE, INDEX)
    with pytest.raises(QueryError) as e:
        audit.search("nosuchkey: x")
    assert e.value.code == "ParameterInvalid"
    assert e.value.message.startswith("key (nosuchkey) is not config as key value config")
    with pytest.raises(QueryError):
        audit.search("kind: command or nosuchkey: x")
    assert audit.pods("k8s.pod.name: nginx-2") == ["nginx-2"]         # declared
    assert audit.pods("process.name: ls") == ["nginx-2"]               # present


def test_without_an_index_an_unknown_key_simply_matches_nothing(audit):
    assert audit.search("nosuchkey: x") == []
    assert len(audit.search("not nosuchkey: x")) == 5


def test_declared_keys_are_searchable_before_any_data(engine):
    engine.store.set_index(engine.PROJECT, engine.LOGSTORE, INDEX)
    assert engine.search("k8s.pod.name: x") == []
    assert engine.sql('* | select count("k8s.pod.name") as c') == [{"c": "0"}]


def test_histogram_buckets_cover_the_window(audit):
    t0 = audit.T0
    buckets = audit.store.histogram(audit.PROJECT, audit.LOGSTORE, "kind: command", t0, t0 + 180)
    assert len(buckets) == 36 and buckets[0][0] == t0 and buckets[-1][1] == t0 + 180
    assert all(b[1] - b[0] == 5 for b in buckets)
    assert all(a[1] == b[0] for a, b in zip(buckets, buckets[1:], strict=False))
    assert [i for i, b in enumerate(buckets) for _ in range(b[2])] == [0, 12, 25, 26]   # t0, +60, +125, +130


def test_histogram_intervals_are_nice_and_at_most_60(store):
    from ackaudit.engine.histogram import bucket_interval
    assert bucket_interval(0, 60) == 1
    assert bucket_interval(0, 3600) == 60
    assert bucket_interval(0, 86400) == 1800
    assert bucket_interval(0, 7 * 86400) == 3 * 3600
    assert len(store.histogram("p", "l", "*", 0, 3601)) == 31        # 2-minute buckets, last one partial
    assert store.histogram("p", "l", "*", 10, 10) == []


def test_histogram_refuses_an_analytic_statement(audit):
    with pytest.raises(QueryError) as e:
        audit.store.histogram(audit.PROJECT, audit.LOGSTORE, "* | select count(*)", 0, 10)
    assert e.value.code == "ParameterInvalid"


def test_read_from_pages_in_arrival_order(engine):
    engine.append(*(engine.command(engine.T0 - i, pod=f"p-{i}") for i in range(5)))
    rows, nxt = engine.store.read_from(engine.PROJECT, engine.LOGSTORE, 0, 2)
    assert [json.loads(r["k8s"])["pod"]["name"] for r in rows] == ["p-0", "p-1"] and nxt == 2
    rows, nxt = engine.store.read_from(engine.PROJECT, engine.LOGSTORE, nxt, 10)
    assert len(rows) == 3 and nxt == 5
    assert engine.store.read_from(engine.PROJECT, engine.LOGSTORE, nxt, 10) == ([], 5)


def test_seq_at_finds_the_first_arrival_at_or_after_a_time(engine):
    t0 = engine.T0
    engine.append(engine.command(t0), engine.command(t0 + 10), engine.command(t0 + 5), engine.command(t0 + 20))
    store = engine.store
    assert store.seq_at(engine.PROJECT, engine.LOGSTORE, t0 + 5) == 1
    assert store.seq_at(engine.PROJECT, engine.LOGSTORE, t0 + 11) == 3
    assert store.seq_at(engine.PROJECT, engine.LOGSTORE, t0 + 100) == 4
    assert store.seq_at(engine.PROJECT, engine.LOGSTORE, None) == 4


def test_count_and_time_span(audit):
    store, t0 = audit.store, audit.T0
    assert store.count(audit.PROJECT, audit.LOGSTORE) == 5
    assert store.count(audit.PROJECT, audit.LOGSTORE, t0, t0 + 125) == 2
    assert store.time_span(audit.PROJECT, audit.LOGSTORE) == (t0 - 10, t0 + 130)
    assert store.time_span(audit.PROJECT, "empty") is None


def test_logstores_are_separate_and_drop_deletes_data(audit):
    store = audit.store
    store.append(audit.PROJECT, "other", [{"__time__": audit.T0, "kind": "Other"}])
    assert store.count(audit.PROJECT, "other") == 1 and store.count(audit.PROJECT, audit.LOGSTORE) == 5
    store.drop_logstore(audit.PROJECT, audit.LOGSTORE)
    assert store.count(audit.PROJECT, audit.LOGSTORE) == 0
    assert store.count(audit.PROJECT, "other") == 1


def test_an_on_disk_store_reopens_with_data_index_and_keys(tmp_path, engine):
    path = tmp_path / "events.duckdb"
    first = EventStore(path)
    first.append("p", "l", [engine.command(engine.T0, pod="kept"), {"__time__": engine.T0 + 1, "Mixed": "x"}])
    first.set_index("p", "l", INDEX)
    first.close()
    again = EventStore(path)
    try:
        rows = again.query("p", "l", "*", engine.T0, engine.T0 + 2).rows
        assert json.loads(rows[0]["k8s"])["pod"]["name"] == "kept" and rows[1]["Mixed"] == "x"
        with pytest.raises(QueryError):
            again.query("p", "l", "undeclared: x", engine.T0, engine.T0 + 2)
        again.append("p", "l", [{"__time__": engine.T0 + 3, "Mixed": "y"}])
        assert again.read_from("p", "l", 2, 10)[0][0]["Mixed"] == "y"
    finally:
        again.close()


def test_concurrent_appends_and_queries(engine):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                engine.append(engine.command(engine.T0 + i, pod=f"w{n}-{i}", **{f"extra{n}_{i}": "x"}))
        except BaseException as e:     # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    def reader() -> None:
        try:
            for _ in range(20):
                engine.search("kind: command")
                engine.sql("* | select count(*) as c")
        except BaseException as e:     # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert engine.sql("* | select count(*) as c") == [{"c": "30"}]


def test_a_soft_memory_limit_is_lifted_when_a_statement_needs_more(tmp_path):
    """With too little memory a statement still answers, and the store no longer holds to the limit."""
    def fill(store):
        store.append("p", "l", ({"__time__": 1000 + i, "k": f"value-number-{i}-" + "x" * 40, "g": str(i % 7)}
                                for i in range(100_000)))
        return store

    question = "* | select g, count(distinct k) as n group by g order by g"
    expected = fill(EventStore(None)).query("p", "l", question, 0, 10**10).rows
    store = fill(EventStore(None))
    store.configure(str(tmp_path), threads=1)
    store.keep_memory_within(1)
    limited = store.run("SELECT current_setting('memory_limit')")[0][0]
    assert store.query("p", "l", question, 0, 10**10).rows == expected
    assert [r["n"] for r in expected] == ["14286"] * 5 + ["14285"] * 2
    assert store.run("SELECT current_setting('memory_limit')")[0][0] != limited


def test_a_statement_started_meanwhile_gives_its_rows_or_its_error():
    import duckdb

    store = EventStore(None)
    try:
        assert store.start("SELECT 40 + 2").result() == [(42,)]
        with pytest.raises(duckdb.Error):
            store.start("SELECT * FROM no_such_table").result()
    finally:
        store.close()


def test_a_statement_started_meanwhile_can_be_cancelled(tmp_path):
    """Without the interrupt this sum would take minutes; cancel() returns once it has stopped (even
    asked before the statement has begun), and the store goes on answering."""
    store = EventStore(None)
    try:
        store.configure(str(tmp_path), threads=1)
        running = store.start("SELECT sum(i) FROM range(100000000000) t(i)")
        running.cancel()
        assert not running._thread.is_alive()
        assert store.run("SELECT 1") == [(1,)]
    finally:
        store.close()
