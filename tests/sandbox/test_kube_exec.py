"""Pod exec through `kubernetes.stream`, and the audit rows it leaves in the cluster's logstore."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from aliyunsdkcore.request import CommonRequest

from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID
from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID

PROJECT, LOGSTORE = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"


def kube_core(sandbox, acs_client, cluster_id: str):
    from kubernetes import client, config

    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15",
                        uri_pattern=f"/k8s/{cluster_id}/user_config")
    req.set_method("GET")
    body = json.loads(acs_client.do_action_with_exception(req))
    return client.CoreV1Api(config.new_client_from_config_dict(yaml.safe_load(body["config"])))


@pytest.fixture
def core(sandbox, acs_client):
    return kube_core(sandbox, acs_client, AUDITED_CLUSTER_ID)


@pytest.fixture
def pod(sandbox) -> dict:
    return next(p for p in sandbox.state.clusters[AUDITED_CLUSTER_ID]["pods"] if p["namespace"] == "payments")


def run(core, pod: dict, command: list[str], **options):
    """(output, exit code) of a non-interactive exec."""
    from kubernetes.stream import stream

    resp = stream(core.connect_get_namespaced_pod_exec, pod["name"], pod["namespace"], command=command,
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False, **options)
    resp.run_forever(timeout=10)
    code = resp.returncode   # before read_all(), which forgets the status channel
    return resp.read_all(), code


def session_rows(sandbox, since: float, pod: dict) -> list[dict]:
    """Audit rows recorded for `pod` since `since`, oldest first, JSON fields decoded."""
    result = sandbox.state.events.query(PROJECT, LOGSTORE, "*", int(since), int(time.time()) + 2, line=1000)
    rows = []
    for row in result.rows:
        k8s = json.loads(row["k8s"])
        if k8s["pod"]["name"] == pod["name"]:
            rows.append({**row, "k8s": k8s, **{k: json.loads(row[k]) for k in ("process", "kubeObject")
                                                if row.get(k)}})
    return sorted(rows, key=lambda r: r["time"])


def test_touch_and_rm_are_audited_as_one_session_with_a_process_tree(sandbox, core, pod):
    since = time.time()
    assert run(core, pod, ["sh", "-c", "touch a.txt && rm a.txt"]) == ("", 0)
    rows = session_rows(sandbox, since, pod)
    assert [r["kind"] for r in rows] == ["Kubernetes", "Command", "Command", "Command"]
    assert len({r["traceId"] for r in rows}) == 1 and len({r["eventId"] for r in rows}) == 4
    exec_event = rows[0]["kubeObject"]["operation"]
    assert exec_event["kind"] == "PodExec"
    assert exec_event["podExecOptions"]["command"] == ["sh", "-c", "touch a.txt && rm a.txt"]
    assert all(r["k8s"]["user"]["username"] == SANDBOX_ACCOUNT_ID for r in rows)
    shell, touch, rm = (r["process"] for r in rows[1:])
    assert (shell["name"], shell["parentName"]) == ("sh", "runc")
    assert (touch["name"], touch["cmdline"], touch["parentPid"], touch["parentName"]) == (
        "touch", "touch a.txt", shell["pid"], "sh")
    assert (rm["name"], rm["parentPid"]) == ("rm", shell["pid"])
    assert len({shell["pid"], touch["pid"], rm["pid"], shell["parentPid"]}) == 4


def test_programs_and_exit_codes(core, pod):
    assert run(core, pod, ["id"]) == ("uid=0(root) gid=0(root) groups=0(root)\n", 0)
    assert "etc\n" in run(core, pod, ["ls", "/"])[0]
    assert run(core, pod, ["cat", "/etc/hostname"]) == (pod["name"] + "\n", 0)
    assert run(core, pod, ["cat", "/no/such/file"]) == ("cat: /no/such/file: No such file or directory\n", 1)
    assert run(core, pod, ["sh", "-c", "nosuchprogram"]) == ("sh: 1: nosuchprogram: not found\n", 127)
    assert run(core, pod, ["bash", "-c", "exit 3"])[1] == 3


def test_files_live_on_between_execs_into_the_same_container(core, pod):
    assert run(core, pod, ["sh", "-c", "echo kept > /tmp/note"]) == ("", 0)
    assert run(core, pod, ["cat", "/tmp/note"]) == ("kept\n", 0)


def test_interactive_shell_reads_lines_until_exit_and_audits_as_it_goes(sandbox, core, pod):
    from kubernetes.stream import stream

    since = time.time()
    resp = stream(core.connect_get_namespaced_pod_exec, pod["name"], pod["namespace"], command=["bash"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("cd /tmp && touch x.txt\n")
    resp.write_stdin("ls\n")
    assert resp.readline_stdout(timeout=5) == "x.txt"
    deadline = time.time() + 5
    while len(session_rows(sandbox, since, pod)) < 4 and time.time() < deadline:
        time.sleep(0.05)
    processes = [r["process"] for r in session_rows(sandbox, since, pod)[1:]]
    assert [(p["name"], p["cwd"]) for p in processes] == [("bash", "/"), ("touch", "/tmp"), ("ls", "/tmp")]
    resp.write_stdin("exit 4\n")
    resp.run_forever(timeout=5)
    assert resp.returncode == 4


def test_stdin_is_read_until_the_client_closes_it(core, pod):
    from kubernetes.stream import stream

    resp = stream(core.connect_get_namespaced_pod_exec, pod["name"], pod["namespace"], command=["cat"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    assert resp.subprotocol == "v5.channel.k8s.io"
    resp.write_stdin("hello ")
    resp.write_stdin("world")
    resp.close_channel(0)
    resp.run_forever(timeout=5)
    assert resp.returncode == 0
    assert resp.read_all() == "hello world"


def test_terminal_sessions_echo_and_prompt(core, pod):
    from kubernetes.stream import stream

    resp = stream(core.connect_get_namespaced_pod_exec, pod["name"], pod["namespace"], command=["sh"],
                  stderr=True, stdin=True, stdout=True, tty=True, _preload_content=False)
    resp.write_stdin("echo hi\r")
    resp.write_stdin("exit\r")
    resp.run_forever(timeout=5)
    assert resp.returncode == 0
    assert resp.read_all() == "# echo hi\r\nhi\r\n# exit\r\n"


def test_nothing_is_audited_where_the_agent_does_not_run(sandbox, acs_client, core, pod):
    since = time.time()
    with sandbox.state.lock:   # the pod's node gets a kernel the agent does not support
        node = next(n for n in sandbox.state.clusters[AUDITED_CLUSTER_ID]["nodes"]
                    if n["node_name"] == pod["node_name"])
        node["kernel_version"] = "4.19.91-27.al7.x86_64"
    assert run(core, pod, ["true"]) == ("", 0)
    assert session_rows(sandbox, since, pod) == []

    eligible = kube_core(sandbox, acs_client, ELIGIBLE_CLUSTER_ID)
    other = next(p for p in sandbox.state.clusters[ELIGIBLE_CLUSTER_ID]["pods"] if p["namespace"] != "kube-system")
    assert run(eligible, other, ["true"]) == ("", 0)
    assert f"advaudit-{ELIGIBLE_CLUSTER_ID}" not in sandbox.state.projects[f"k8s-log-{ELIGIBLE_CLUSTER_ID}"]["logstores"]


def test_exec_requests_are_validated_before_the_upgrade(sandbox, core, pod):
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException, match="400"):
        run(core, pod, ["id"], container="no-such-container")
    with pytest.raises(ApiException, match="404"):
        run(core, {**pod, "name": "no-such-pod"}, ["id"])
    with sandbox.state.lock:
        for user in sandbox.state.clusters[AUDITED_CLUSTER_ID]["users"].values():
            user["read_only"] = True
    with pytest.raises(ApiException, match="403"):
        run(core, pod, ["id"])
