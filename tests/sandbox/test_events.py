"""SessionRecorder rows: the raw audit log shape, ids, and how flatten_event reads them back."""

import json
import random
import re

from ackaudit.audit.fields import FIELD_NAMES, flatten_event
from ackaudit.sandbox.events import SessionRecorder

CLUSTER = {"cluster_id": "c" + "0" * 32, "nodes": [
    {"node_name": "cn-hangzhou.10.0.1.7", "ip": "10.0.1.7"},
    {"node_name": "cn-hangzhou.10.0.1.8", "ip": "10.0.1.8"}]}
POD = {"namespace": "shop", "name": "cart-5d8f7c9b4-q2x7z", "node_name": "cn-hangzhou.10.0.1.8",
       "labels": {"app": "cart"}, "containers": [{"name": "sidecar", "image": "envoy:1.30"},
                                                 {"name": "cart", "image": "registry.example/cart:1.2"}]}
USER = {"username": "2036485917305842", "aliuid": "2036485917305842", "groups": ["system:authenticated"]}
WHEN = 1750000000.25
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def record(rng=None):
    rec = SessionRecorder(CLUSTER, POD, "cart", USER, ["bash"], WHEN, rng)
    rec.command(["bash"], cwd="/app", pid=4100, parent_pid=4090, parent_name="containerd-shim", when=WHEN + 0.2)
    rec.command(["/usr/bin/curl", "-s", "http://localhost/healthz"], cwd="/app", pid=4120, parent_pid=4100,
                parent_name="bash", uid=1000, when=WHEN + 5.5)
    return rec


def test_pod_exec_row_has_the_kubernetes_event_shape():
    row = record().rows()[0]
    assert row["kind"] == "Kubernetes"
    assert row["__time__"] == 1750000000 and row["time"] == "2025-06-15T15:06:40.250000Z"
    assert row["__source__"] == "10.0.1.8" and row["__topic__"] == "" and row["clusterid"] == CLUSTER["cluster_id"]
    assert json.loads(row["k8s"]) == {"user": USER, "pod": {"namespace": "shop", "name": POD["name"],
                                                             "labels": {"app": "cart"}}}
    assert json.loads(row["host"]) == {"hostip": "10.0.1.8", "nodename": "cn-hangzhou.10.0.1.8"}
    assert json.loads(row["kubeObject"]) == {"operation": {"kind": "PodExec", "podExecOptions": {
        "container": "cart", "command": ["bash"], "commandStr": "bash", "stdin": True, "tty": True}}}
    assert "process" not in row


def test_command_rows_carry_the_process_and_container():
    rows = record().rows()
    curl = rows[2]
    assert curl["kind"] == "Command" and "kubeObject" not in curl
    assert ISO_UTC.match(curl["time"]) and curl["__time__"] == 1750000005
    k8s = json.loads(curl["k8s"])
    assert k8s["container"] == {"name": "cart", "image": "registry.example/cart:1.2"}
    assert k8s["user"] == USER
    assert json.loads(curl["process"]) == {
        "name": "curl", "cmdline": "curl -s http://localhost/healthz", "cwd": "/app", "pid": 4120,
        "parentPid": 4100, "parentName": "bash", "user": {"uid": 1000}}
    assert all(isinstance(v, str) for r in rows for k, v in r.items() if k != "__time__")


def test_a_session_shares_one_trace_id_and_has_unique_event_ids():
    rec = record()
    rows = rec.rows()
    assert {r["traceId"] for r in rows} == {rec.trace_id}
    assert len({r["eventId"] for r in rows}) == len(rows) == 3
    assert all(HEX32.match(r["eventId"]) for r in rows) and HEX32.match(rec.trace_id)


def test_ids_are_deterministic_under_an_rng_and_random_without():
    assert record(random.Random(7)).rows() == record(random.Random(7)).rows()
    assert record(random.Random(7)).trace_id != record(random.Random(8)).trace_id
    assert record().trace_id != record().trace_id


def test_command_without_time_is_stamped_now():
    rec = SessionRecorder(CLUSTER, POD, "cart", USER, ["sh"], WHEN)
    row = rec.command(["ls"], cwd="/", pid=5, parent_pid=4, parent_name="sh")
    assert row["__time__"] > WHEN + 1000
    assert rec.rows()[-1] == row


def test_flatten_event_gives_every_dotted_field():
    pod_exec, shell, curl = (flatten_event(r) for r in record().rows())
    assert set(curl) == {"__time__"} | set(FIELD_NAMES) - {n for n in FIELD_NAMES if n.startswith("kubeObject.")}
    assert curl["process.pid"] == 4120 and curl["process.parentPid"] == 4100 and curl["process.user.uid"] == 1000
    assert curl["k8s.user.groups"] == ["system:authenticated"] and curl["k8s.pod.labels"] == {"app": "cart"}
    assert curl["host.hostip"] == "10.0.1.8" and curl["__time__"] == 1750000005
    assert pod_exec["kubeObject.operation.kind"] == "PodExec"
    assert pod_exec["kubeObject.operation.podExecOptions.command"] == ["bash"]
    assert pod_exec["kubeObject.operation.podExecOptions.tty"] is True
    assert "process.name" not in pod_exec and "k8s.container.name" not in pod_exec
    assert shell["process.parentName"] == "containerd-shim"


def test_flatten_event_accepts_other_key_casings():
    row = record().rows()[0]
    lowered = {k.lower(): v.lower() if k == "kubeObject" else v for k, v in row.items()}
    assert flatten_event(lowered)["kubeObject.operation.podExecOptions.commandStr"] == "bash"
    process = '{"Name":"rm","parentpid":7,"parentname":"sh","user":{"UID":"0"}}'
    flat = flatten_event({"kind": "Command", "process": process})
    assert flat == {"kind": "Command", "process.name": "rm", "process.parentPid": 7, "process.parentName": "sh",
                    "process.user.uid": 0}


def test_flatten_event_reads_sql_columns_and_tolerates_missing_or_broken_fields():
    sql_row = {"clusterid": "c1", "kubeobject.operation.podexecoptions.commandstr": "bash",
               "k8s.user.groups": '["system:masters"]', "process.pid": "42", "__time__": "1750000000"}
    assert flatten_event(sql_row) == {"__time__": 1750000000, "clusterid": "c1",
                                      "k8s.user.groups": ["system:masters"], "process.pid": 42,
                                      "kubeObject.operation.podExecOptions.commandStr": "bash"}
    assert flatten_event({}) == {}
    assert flatten_event({"kind": "Command", "process": "not json", "k8s": "[1]"}) == {"kind": "Command"}
