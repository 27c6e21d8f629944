"""Logs through the real SDK: PutLogs, GetLogs (v2, lz4, legacy), histograms, cursors, PullLogs."""

from __future__ import annotations

import time

import pytest
from aliyun.log import GetHistogramsRequest, IndexConfig, LogException, LogItem, PutLogsRequest
from aliyun.log.index_config import IndexKeyConfig, IndexLineConfig

PROJECT, LOGSTORE = "k8s-log-test", "audit"
NOW = int(time.time())
COMMANDS = [("nginx-1", "rm"), ("nginx-1", "ls"), ("nginx-2", "rm"), ("nginx-2", "curl"), ("db-0", "psql")]


@pytest.fixture
def logstore(sls_client):
    sls_client.create_project(PROJECT, "")
    sls_client.create_logstore(PROJECT, LOGSTORE, shard_count=2)
    return LOGSTORE


@pytest.fixture
def indexed(sls_client, logstore):
    keys = {k: IndexKeyConfig() for k in ("kind", "k8s.pod.name", "process.name")}
    sls_client.create_index(PROJECT, logstore, IndexConfig(line_config=IndexLineConfig(), key_config_list=keys))
    items = []
    for i, (pod, process) in enumerate(COMMANDS):
        item = LogItem(timestamp=NOW - 60 + i)
        item.set_contents([("kind", "Command"), ("k8s.pod.name", pod), ("process.name", process)])
        items.append(item)
    sls_client.put_logs(PutLogsRequest(PROJECT, logstore, "audit", "10.0.0.7", items))
    return logstore


def test_put_then_get_logs_round_trip(sls_client, indexed, sandbox):
    resp = sls_client.get_log(PROJECT, indexed, NOW - 120, NOW + 1, query="process.name: rm")
    assert resp.is_completed()
    assert sorted(log.get_contents()["k8s.pod.name"] for log in resp.get_logs()) == ["nginx-1", "nginx-2"]
    assert {log.get_source() for log in resp.get_logs()} == {"10.0.0.7"}
    assert all(isinstance(v, str) for log in resp.get_logs() for v in log.get_contents().values())
    last = sandbox.recent_requests()[-1]
    assert (last["action"], last["project"], last["status"]) == ("GetLogsV2", PROJECT, 200)


def test_get_logs_answers_lz4_when_accepted(sls_client, indexed):
    resp = sls_client.get_log(PROJECT, indexed, NOW - 120, NOW + 1, query="*", reverse=True)
    headers = resp.get_all_headers()
    assert headers["x-log-compresstype"] == "lz4" and int(headers["x-log-bodyrawsize"]) > 0
    assert [log.get_contents()["process.name"] for log in resp.get_logs()] == ["psql", "curl", "rm", "ls", "rm"]


def test_sql_queries_report_has_sql(sls_client, indexed):
    resp = sls_client.get_log(PROJECT, indexed, NOW - 120, NOW + 1,
                              query='kind: Command | select "process.name", count(1) as c group by "process.name"')
    assert resp.get_has_sql() is True
    counts = {log.get_contents()["process.name"]: log.get_contents()["c"] for log in resp.get_logs()}
    assert counts["rm"] == "2"


def test_legacy_get_logs_and_histograms(sls_client, indexed):
    sls_client._get_logs_v2_enabled = False
    resp = sls_client.get_log(PROJECT, indexed, NOW - 120, NOW + 1, query="k8s.pod.name: nginx-2")
    assert resp.is_completed() and resp.get_count() == 2
    hist = sls_client.get_histograms(GetHistogramsRequest(PROJECT, indexed, NOW - 120, NOW + 1, query="*"))
    assert hist.is_completed() and hist.get_total_count() == len(COMMANDS)


def test_search_without_an_index_fails_as_sls_does(sls_client, logstore):
    with pytest.raises(LogException) as err:
        sls_client.get_log(PROJECT, logstore, NOW - 60, NOW)
    assert (err.value.get_error_code(), err.value.resp_status) == ("IndexConfigNotExist", 400)


def test_query_errors_and_unknown_logstores(sls_client, indexed):
    with pytest.raises(LogException) as err:
        sls_client.get_log(PROJECT, "missing", NOW - 60, NOW)
    assert (err.value.get_error_code(), err.value.resp_status) == ("LogStoreNotExist", 404)
    with pytest.raises(LogException) as err:
        sls_client.get_log(PROJECT, indexed, NOW, NOW - 60)
    assert err.value.get_error_code() == "InvalidTimeRange"
    with pytest.raises(LogException) as err:
        sls_client.get_log(PROJECT, indexed, NOW - 60, NOW, query="* | select nosuchfunction(1)")
    assert err.value.resp_status == 400


def test_pull_logs_reads_everything_in_order(sls_client, indexed):
    """Events are spread over the shards; each shard hands over its share in arrival order."""
    pulled = {}
    for shard in (0, 1):
        pulled[shard] = [log for resp in sls_client.pull_log(PROJECT, indexed, shard, "begin", "end", batch_size=2)
                         for log in resp.get_flatten_logs_json()]
    assert pulled[0] and pulled[1]
    for logs in pulled.values():
        assert [log["__time__"] for log in logs] == sorted(log["__time__"] for log in logs)
    merged = sorted(pulled[0] + pulled[1], key=lambda log: log["__time__"])
    assert [log["process.name"] for log in merged] == [p for _, p in COMMANDS]
    for shard in (0, 1):
        end = sls_client.get_end_cursor(PROJECT, indexed, shard).get_cursor()
        empty = sls_client.pull_logs(PROJECT, indexed, shard, end)
        assert empty.get_log_count() == 0 and empty.get_next_cursor() == end


def test_cursors_by_time_and_end_cursors_bound_a_shard(sls_client, indexed):
    later = {}
    for shard in (0, 1):
        cursor = sls_client.get_cursor(PROJECT, indexed, shard, NOW - 60 + 2).get_cursor()
        end = sls_client.get_end_cursor(PROJECT, indexed, shard).get_cursor()
        resp = sls_client.pull_logs(PROJECT, indexed, shard, cursor, count=1000, end_cursor=end)
        later[shard] = resp.get_flatten_logs_json()
        assert resp.get_next_cursor() == end
        begin = sls_client.get_begin_cursor(PROJECT, indexed, shard).get_cursor()
        assert sls_client.pull_logs(PROJECT, indexed, shard, begin, end_cursor=begin).get_log_count() == 0
    assert sorted(log["process.name"] for logs in later.values() for log in logs) == ["curl", "psql", "rm"]


def test_pulled_bodies_are_what_the_sdk_would_serialise():
    """The hand-written LogGroupList is byte for byte the SDK's protobuf serialisation."""
    from aliyun.log.proto import LogGroupList

    from ackaudit.sandbox.loggroups import encode_records

    long_value = "x" * 20_000 + "é"
    columns = ("__source__", "__topic__", "kind", "k8s", "__tag__:__hostname__", "note")
    keysets = {0: ("__source__", "__topic__", "kind", "k8s", "__tag__:__hostname__"),
               1: ("kind", "note", "__tag__:__hostname__"),
               2: ("Note", "__topic__")}
    records = [(0, NOW, 0, "10.0.0.7", "audit", "Command", '{"pod":{"name":"api-0"}}', "node-1", None),
               (1, NOW + 1, 1, None, None, "Kubernetes", None, None, long_value),
               (2, NOW + 2, 2, None, "", None, None, None, "日本語 ✓"),
               (3, 2**32 - 1, 0, "", "audit", None, "{}", "node-2", None)]
    expected = LogGroupList()
    for _, when, keyset, *values in records:
        row = dict(zip(columns, values, strict=True))
        group = expected.LogGroups.add()
        present = {k: row[k.lower()] for k in keysets[keyset] if row[k.lower()] is not None}
        group.Topic, group.Source = present.get("__topic__", ""), present.get("__source__", "")
        log = group.Logs.add()
        log.Time = when
        for key, value in present.items():
            if key.startswith("__tag__:"):
                tag = group.LogTags.add()
                tag.Key, tag.Value = key[len("__tag__:"):], value
            elif key not in ("__source__", "__topic__"):
                content = log.Contents.add()
                content.Key, content.Value = key, value
    assert encode_records([c.lower() for c in columns], keysets, records) == expected.SerializeToString()


def test_pull_logs_rejects_bad_cursors_and_shards(sls_client, logstore):
    with pytest.raises(LogException) as err:
        sls_client.pull_logs(PROJECT, logstore, 0, "not a cursor!")
    assert err.value.get_error_code() == "InvalidCursor"
    with pytest.raises(LogException) as err:
        sls_client.get_begin_cursor(PROJECT, logstore, 7)
    assert err.value.get_error_code() == "ShardNotExist"


def test_routed_put_logs_uncompressed(sls_client, indexed):
    item = LogItem(timestamp=NOW - 1)
    item.set_contents([("kind", "Command"), ("process.name", "vim")])
    sls_client.put_logs(PutLogsRequest(PROJECT, indexed, "", "10.0.0.8", [item], hashKey="0" * 32, compress=False))
    resp = sls_client.get_log(PROJECT, indexed, NOW - 120, NOW + 1, query="process.name: vim")
    assert [log.get_source() for log in resp.get_logs()] == ["10.0.0.8"]
