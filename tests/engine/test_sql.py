"""Analytic statements (`search | sql`): SLS naming, limits, string results, the seed's alert queries."""

from __future__ import annotations

import json

import pytest

from ackaudit.engine import QueryError

# Copied verbatim from the ACK guide (reference/cloud-apis.md §3.2).
ALERT_ENTERED_CONTAINER = """kind: Kubernetes and kubeObject.operation.kind: PodExec | select "clusterid", "time", "traceId", "eventId", "k8s.user.aliuid", "k8s.user.username", json_extract(k8s, '$.user.groups') as "k8s.user.groups", "host.hostip", "host.nodename", "k8s.pod.namespace", "k8s.pod.name", json_extract(k8s, '$.pod.labels') as "k8s.pod.labels", "kubeobject.operation.podexecoptions.container", json_extract(kubeobject, '$.operation.podExecOptions.command') as "kubeobject.operation.podexecoptions.command", "kubeobject.operation.podexecoptions.commandstr" from log"""  # noqa: E501
ALERT_RISKY_PROGRAM = """kind: Command | select "clusterid", "time", "traceId", "eventId", "k8s.user.aliuid", "k8s.user.username", json_extract(k8s, '$.user.groups') as "k8s.user.groups", "host.hostip", "host.nodename", "k8s.pod.namespace", "k8s.pod.name", json_extract(k8s, '$.pod.labels') as "k8s.pod.labels", "k8s.container.name", "k8s.container.image", "process.cwd", "process.name", "process.cmdline", json_extract(process, '$.pid') as "process.pid", "process.user.uid", json_extract(process, '$.parentPid') as "process.parentpid", "process.parentname" from log where "process.name" in ('rm', 'sudo', 'su', 'nsenter', 'curl', 'wget', 'yum', 'apt-get', 'apt', 'apk', 'dpkg', 'nc', 'ncat', 'ssh', 'scp', 'nmap', 'docker', 'crictl', 'nerdctl', 'podman', 'kubectl', 'helm', 'mysql', 'redis', 'psql', 'redis-cli', 'pip', 'npm', 'gem')"""  # noqa: E501


def test_alert_query_for_entering_a_container(audit):
    result = audit.query(ALERT_ENTERED_CONTAINER)
    assert result.has_sql and result.where_query.startswith("kind: Kubernetes")
    # Presto (and so SLS) lower-cases column names: "traceId" comes back as "traceid".
    assert result.keys == ["clusterid", "time", "traceid", "eventid", "k8s.user.aliuid", "k8s.user.username",
                           "k8s.user.groups", "host.hostip", "host.nodename", "k8s.pod.namespace", "k8s.pod.name",
                           "k8s.pod.labels", "kubeobject.operation.podexecoptions.container",
                           "kubeobject.operation.podexecoptions.command",
                           "kubeobject.operation.podexecoptions.commandstr"]
    [row] = result.rows
    assert row["k8s.pod.name"] == "nginx-1" and row["host.nodename"] == "node-1"
    assert json.loads(row["k8s.user.groups"]) == ["system:masters", "dev"]
    assert json.loads(row["k8s.pod.labels"]) == {"app": "web"}
    assert json.loads(row["kubeobject.operation.podexecoptions.command"]) == ["bash"]
    assert row["kubeobject.operation.podexecoptions.container"] == "nginx"
    assert row["kubeobject.operation.podexecoptions.commandstr"] == "bash"
    assert row["k8s.user.aliuid"] == ""


def test_alert_query_for_risky_programs(audit):
    rows = audit.sql(ALERT_RISKY_PROGRAM)
    assert [(r["process.name"], r["process.pid"], r["process.parentpid"]) for r in rows] == \
        [("rm", "101", "1"), ("curl", "103", "1")]
    assert rows[0]["process.cmdline"] == "rm -rf /tmp/a.txt"
    assert rows[0]["process.user.uid"] == "0" and rows[0]["process.parentname"] == "bash"
    assert rows[0]["k8s.container.image"] == "nginx:1.25"
    assert json.loads(rows[0]["k8s.user.groups"]) == ["system:authenticated"]


def test_from_log_is_optional_and_unnamed_columns_are_numbered(audit):
    assert audit.sql("* | select count(*), count(1) as c") == [{"_col0": "5", "c": "5"}]
    assert audit.sql("kind: command | select count(1)") == [{"_col0": "4"}]


def test_group_by_and_order(audit):
    rows = audit.sql('kind: Command | select "k8s.pod.name", count(*) as c group by 1 order by c desc, 1 limit 10')
    assert rows == [{"k8s.pod.name": "nginx-1", "c": "2"}, {"k8s.pod.name": "coredns-1", "c": "1"},
                    {"k8s.pod.name": "nginx-2", "c": "1"}]


def test_presto_functions(audit):
    [row] = audit.sql("""* | select approx_distinct("k8s.pod.name") as pods,
        count_if("process.name" = 'rm') as rms, arbitrary(clusterid) as cluster,
        max_by("process.name", __time__) as last, min_by("process.name", __time__) as first,
        json_extract_scalar(k8s, '$.user.username') as who, split_part("k8s.pod.name", '-', 1) as base,
        lower(kind) as k, cast("process.pid" as bigint) + 1 as next_pid, try_cast(kind as bigint) as nan
        from log where regexp_like("k8s.pod.name", '^nginx') and "process.name" = 'cat' group by 6, 7, 8, 9, 10""")
    assert row == {"pods": "1", "rms": "0", "cluster": "c1", "last": "cat", "first": "cat", "who": "alice",
                   "base": "nginx", "k": "command", "next_pid": "105", "nan": "null"}


def test_time_functions_accept_unix_seconds(audit):
    rows = audit.sql("kind: command | select date_trunc('minute', __time__) as t, count(*) as c group by t order by t")
    assert rows == [{"t": "2023-11-14 22:13:00.000", "c": "1"}, {"t": "2023-11-14 22:14:00.000", "c": "1"},
                    {"t": "2023-11-14 22:15:00.000", "c": "2"}]
    [row] = audit.sql("process.name: rm | select from_unixtime(__time__) as ts, "
                      "date_format(from_unixtime(__time__), '%Y-%m-%d %H:%i:%s') as text, __time__")
    assert row == {"ts": "2023-11-14 22:13:20.000", "text": "2023-11-14 22:13:20", "__time__": "1700000000"}


def test_date_trunc_keeps_timestamps_as_they_are(audit):
    rows = audit.sql("process.name: rm | select date_trunc('hour', t) as h, date_trunc('minute', __time__ - 60) as m "
                     "from (select from_unixtime(__time__) as t, __time__ from log)")
    assert rows == [{"h": "2023-11-14 22:00:00.000", "m": "2023-11-14 22:12:00.000"}]


def test_values_are_strings_in_sls_format(audit):
    [row] = audit.sql("process.name: rm | select null as n, true as yes, 1.5 as half, 7 as seven, "
                      "array[1, 2] as arr, json_extract(k8s, '$.pod') as pod, map(array['a'], array[1]) as m")
    assert row == {"n": "null", "yes": "true", "half": "1.5", "seven": "7", "arr": "[1,2]",
                   "pod": '{"namespace":"default","name":"nginx-1","labels":{"app":"nginx"}}', "m": '{"a":1}'}


def test_json_array_helpers(audit):
    rows = audit.sql("* | select \"k8s.pod.name\" as pod from log "
                     "where json_array_contains(json_extract(k8s, '$.user.groups'), 'system:masters')")
    assert rows == [{"pod": "nginx-1"}]
    [row] = audit.sql("kind: kubernetes | select cardinality(cast(json_extract(k8s, '$.user.groups') as array(varchar))) as n")
    assert row == {"n": "2"}


def test_url_helpers(audit):
    [row] = audit.sql("process.name: curl | select url_extract_host(split_part(\"process.cmdline\", ' ', 2)) as host, "
                      "url_extract_parameter(split_part(\"process.cmdline\", ' ', 2), 'y') as y")
    assert row == {"host": "example.com", "y": "1"}


def test_sql_sees_only_rows_matching_the_search_and_window(audit):
    assert audit.sql("k8s.pod.name: nginx-1 | select count(*) as c") == [{"c": "3"}]
    window = (audit.T0, audit.T0 + 125)
    assert audit.sql("* | select count(*) as c", window=window) == [{"c": "2"}]


def test_default_limit_is_100_and_limit_goes_beyond(engine):
    engine.append(*(engine.command(engine.T0 + i, pid=i) for i in range(250)))
    assert len(engine.sql("* | select __time__")) == 100
    assert len(engine.sql("* | select __time__ limit 200")) == 200
    assert len(engine.sql("* | select __time__ limit 1000000000")) == 250
    assert engine.sql("* | select __time__ order by __time__ limit 2, 1") == [{"__time__": str(engine.T0 + 2)}]


def test_columns_are_case_insensitive(audit):
    rows = audit.sql('kind: kubernetes | select "kubeObject.operation.podExecOptions.container" as c, '
                     '"KIND" as k, "TraceID" as t')
    assert rows == [{"c": "nginx", "k": "Kubernetes", "t": "trace-1"}]


def test_declared_but_unseen_columns_read_as_null(engine):
    engine.store.set_index(engine.PROJECT, engine.LOGSTORE, {"keys": {
        "kind": {"type": "text"}, "k8s": {"type": "json", "json_keys": {"pod.name": {"type": "text"},
                                                                           "pod.uid": {"type": "text"}}}}})
    engine.append(engine.command(engine.T0))
    assert engine.sql('* | select "k8s.pod.uid" as uid, "k8s.pod.name" as name') == [{"uid": "null", "name": "nginx-1"}]


def test_a_column_nobody_declared_is_an_error(audit):
    with pytest.raises(QueryError) as e:
        audit.sql('* | select "no.such.column"')
    assert e.value.code == "ParameterInvalid" and "no.such.column" in e.value.message


@pytest.mark.parametrize("statement", [
    "* | select from",
    "* | drop table log",
    "* | select 1; select 2",
    "* | select * from ackaudit_logstores",
    "* | select * from read_csv('/etc/passwd')",
    "* | select * from '/etc/passwd'",
    "* | select * from main.ls_1",
    "* | select * from log where kind = ?",
    "* |",
])
def test_invalid_or_unsafe_statements_are_rejected(audit, statement):
    with pytest.raises(QueryError) as e:
        audit.query(statement)
    assert e.value.code == "ParameterInvalid"


def test_statement_with_its_own_cte_still_reads_log(audit):
    rows = audit.sql("* | with c as (select kind, count(*) as n from log group by kind) select * from c order by kind")
    assert rows == [{"kind": "Command", "n": "4"}, {"kind": "Kubernetes", "n": "1"}]


def test_result_metadata(audit):
    result = audit.query("kind: command | select count(*) as c")
    assert (result.has_sql, result.where_query, result.agg_query) == (True, "kind: command", "select count(*) as c")
    assert result.processed_rows == 5
    assert audit.query(" | select count(*) as c").where_query == "*"
