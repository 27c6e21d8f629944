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
    pulled = []
    for shard in (0, 1):
        for resp in sls_client.pull_log(PROJECT, indexed, shard, "begin", "end", batch_size=2):
            pulled += [log for group in resp.get_loggroup_json_list() for log in group["logs"]]
    assert [log["process.name"] for log in pulled] == [p for _, p in COMMANDS]
    end = sls_client.get_end_cursor(PROJECT, indexed, 0).get_cursor()
    empty = sls_client.pull_logs(PROJECT, indexed, 0, end)
    assert empty.get_log_count() == 0 and empty.get_next_cursor() == end


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
