"""One port for every service: direct endpoints, proxy mode, admin routes, persistence, start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import requests

from ackaudit.sandbox.server import SandboxServer, classify, sls_project_and_region
from ackaudit.sandbox.state import SandboxState


def test_client_env_points_at_the_server(sandbox):
    env = sandbox.client_env()
    assert env["ACKAUDIT_CS_ENDPOINT"] == env["ACKAUDIT_SLS_ENDPOINT"] == sandbox.url
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    assert (env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]) == ("sandbox", "sandbox")
    assert env["ALIBABA_CLOUD_REGION_ID"] == "cn-hangzhou"


def test_only_loopback_addresses_are_accepted():
    with pytest.raises(ValueError):
        SandboxServer(SandboxState(), host="0.0.0.0")


@pytest.mark.parametrize(("host", "expected"), [
    ("k8s-log-c1.cn-hangzhou.log.aliyuncs.com", ("k8s-log-c1", "cn-hangzhou")),
    ("cn-beijing.log.aliyuncs.com", (None, "cn-beijing")),
    ("proj.cn-shanghai-intranet.log.aliyuncs.com", ("proj", "cn-shanghai")),
    ("proj.127.0.0.1", ("proj", "cn-hangzhou")),
    ("127.0.0.1", (None, "cn-hangzhou")),
])
def test_sls_project_comes_from_the_host(host, expected):
    assert sls_project_and_region(host) == expected


def test_sls_in_proxy_mode_with_the_real_endpoint(sandbox, monkeypatch):
    from aliyun.log import LogClient

    monkeypatch.setenv("HTTP_PROXY", sandbox.url)
    client = LogClient("cn-hangzhou.log.aliyuncs.com", "sandbox", "sandbox", source="127.0.0.1")
    client.timeout = 5
    client.create_project("proxied", "through the proxy")
    client.create_logstore("proxied", "audit", ttl=7)
    assert client.get_logstore("proxied", "audit").get_ttl() == 7
    assert client.get_project("proxied").description == "through the proxy"
    last = sandbox.recent_requests()[-1]
    assert (last["service"], last["project"], last["path"], last["action"]) == \
        ("sls", "proxied", "/", "GetProject")


def test_ack_in_proxy_mode_with_the_real_endpoint(sandbox, monkeypatch):
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcs.request.v20151215.DescribeClustersV1Request import DescribeClustersV1Request

    monkeypatch.setenv("HTTP_PROXY", sandbox.url)
    client = AcsClient("sandbox", "sandbox", "cn-hangzhou", timeout=5, auto_retry=False)
    body = json.loads(client.do_action_with_exception(DescribeClustersV1Request()))
    assert "clusters" in body
    last = sandbox.recent_requests()[-1]
    assert (last["service"], last["path"], last["status"], last["action"]) == \
        ("ack", "/api/v1/clusters", 200, "DescribeClustersV1")


def test_requests_for_no_known_service_are_not_found(sandbox):
    resp = requests.get(sandbox.url + "/whatever", timeout=5)
    assert resp.status_code == 404


def test_admin_health_settings_and_journal(sandbox, sls_client):
    assert requests.get(sandbox.url + "/_sandbox/health", timeout=5).json()["status"] == "ok"
    sls_client.list_project()
    journal = requests.get(sandbox.url + "/_sandbox/requests", timeout=5).json()["requests"]
    assert {"method": "GET", "service": "sls", "path": "/", "project": None, "status": 200,
            "action": "ListProject"}.items() <= journal[-1].items()
    resp = requests.put(sandbox.url + "/_sandbox/settings", json={"task_delay": 0.1}, timeout=5)
    assert resp.json()["settings"]["task_delay"] == 0.1
    assert SandboxState.load(sandbox.state.state_dir).settings["task_delay"] == 0.1
    assert requests.put(sandbox.url + "/_sandbox/settings", json={"nope": 1}, timeout=5).status_code == 400


def test_mutations_are_saved_and_reads_are_not(sandbox, sls_client):
    world = sandbox.state.state_dir / "world.json"
    sls_client.create_project("saved", "")
    assert "saved" in SandboxState.load(sandbox.state.state_dir).projects
    before = world.stat().st_mtime_ns
    sls_client.get_project("saved")
    sls_client.list_project()
    assert world.stat().st_mtime_ns == before


@pytest.mark.parametrize(("headers", "host", "path", "service"), [
    ({"authorization": "acs sandbox:x"}, "127.0.0.1", "/addons", "ack"),
    ({}, "cs.cn-hangzhou.aliyuncs.com", "/addons", "ack"),
    ({"x-log-apiversion": "0.6.0"}, "p.127.0.0.1", "/logstores", "sls"),
    ({}, "p.cn-hangzhou.log.aliyuncs.com", "/", "sls"),
    ({}, "127.0.0.1", "/kube/c1/api/v1/nodes", "kube"),
    ({}, "127.0.0.1", "/_sandbox/health", "admin"),
])
def test_classification(headers, host, path, service):
    from ackaudit.sandbox.http import Request

    assert classify(Request("GET", path, [], headers, b"", host)) == service


def test_start_up_with_state_on_disk_is_fast_and_light(sandbox, tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        started = time.perf_counter()
        from ackaudit.sandbox import open_sandbox
        from ackaudit.sandbox.server import SandboxServer
        server = SandboxServer(open_sandbox({str(sandbox.state.state_dir)!r}), port=0).start()
        elapsed = time.perf_counter() - started
        server.stop()
        heavy = [m for m in ("duckdb", "kubernetes", "aliyunsdkcore", "aliyun.log", "sqlglot") if m in sys.modules]
        print(elapsed, heavy)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert float(out[0]) < 1.0
    assert out[1].strip() == "[]"


def test_small_responses_on_a_reused_connection_are_not_held_back(sandbox):
    """Headers and body of a response are written separately; without TCP_NODELAY the body waits
    for the client's delayed ACK, at least 40 ms a request on Linux (so 10 requests >= 0.4 s)."""
    import http.client
    import time

    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
    try:
        conn.request("GET", "/_sandbox/health")
        conn.getresponse().read()
        started = time.perf_counter()
        for _ in range(10):
            conn.request("GET", "/_sandbox/health")
            assert conn.getresponse().read()
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    assert elapsed < 0.35, f"10 requests took {elapsed:.2f} s"
