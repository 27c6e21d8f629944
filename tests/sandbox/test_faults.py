"""Faults on demand, as the real SDKs see them."""

from __future__ import annotations

import time

import pytest
import requests
from aliyun.log import IndexConfig, LogException, LogItem, PutLogsRequest
from aliyun.log.index_config import IndexLineConfig

from ackaudit.sandbox.faults import Fault, FaultRegistry

PROJECT = "faulty"


@pytest.fixture
def project(sls_client):
    sls_client.create_project(PROJECT, "")
    return PROJECT


def _sls_calls(sandbox, action):
    return [r for r in sandbox.recent_requests() if r["action"] == action]


def test_sls_5xx_is_retried_by_the_sdk(sandbox, sls_client, project, no_sdk_sleep):
    sandbox.faults.add({"kind": "5xx", "service": "sls", "route": r"^GET /$", "count": 3})
    assert sls_client.get_project(project).projectName == project
    assert [r["status"] for r in _sls_calls(sandbox, "GetProject")] == [500, 500, 500, 200]
    assert no_sdk_sleep == [1, 1, 1]


def test_sls_5xx_until_cleared_exhausts_the_sdk(sandbox, sls_client, project, no_sdk_sleep):
    sandbox.faults.add({"kind": "5xx", "service": "sls", "count": -1, "status": 503})
    with pytest.raises(LogException) as err:
        sls_client.get_project(project)
    assert (err.value.get_error_code(), err.value.resp_status) == ("ServerBusy", 503)
    assert len(no_sdk_sleep) == 10
    requests.delete(sandbox.url + "/_sandbox/faults", timeout=5)
    assert sls_client.get_project(project).projectName == project


def test_ack_5xx_is_not_retried_by_core(sandbox, acs_client):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.request import CommonRequest

    sandbox.faults.add({"kind": "5xx", "service": "ack"})
    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15", uri_pattern="/api/v1/clusters")
    req.set_method("GET")
    with pytest.raises(ServerException) as err:
        acs_client.do_action_with_exception(req)
    assert (err.value.get_error_code(), err.value.get_http_status()) == ("InternalError", 500)
    assert [r["status"] for r in sandbox.recent_requests() if r["service"] == "ack"] == [500]
    assert acs_client.do_action_with_exception(req)


def test_throttling_in_each_service_envelope(sandbox, sls_client, acs_client, project):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.request import CommonRequest

    requests.post(sandbox.url + "/_sandbox/faults", timeout=5, json=[
        {"kind": "throttle", "service": "sls"}, {"kind": "throttle", "service": "ack"}])
    with pytest.raises(LogException) as err:
        sls_client.list_logstore(project)
    assert (err.value.get_error_code(), err.value.resp_status) == ("ReadQuotaExceed", 403)
    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15", uri_pattern="/api/v1/clusters")
    req.set_method("GET")
    with pytest.raises(ServerException) as err:
        acs_client.do_action_with_exception(req)
    assert (err.value.get_error_code(), err.value.get_http_status()) == ("Throttling.User", 400)


def _indexed_logs(sls_client, count=6):
    sls_client.create_logstore(PROJECT, "audit")
    sls_client.create_index(PROJECT, "audit", IndexConfig(line_config=IndexLineConfig()))
    now = int(time.time())
    items = [LogItem(timestamp=now - 10 + i, contents=[("n", str(i))]) for i in range(count)]
    sls_client.put_logs(PutLogsRequest(PROJECT, "audit", "", "10.0.0.1", items))
    return now


def test_incomplete_results_are_retried_then_complete(sandbox, sls_client, project, no_sdk_sleep):
    now = _indexed_logs(sls_client)
    sandbox.faults.add({"kind": "incomplete", "service": "sls", "route": "/logs$"})
    resp = sls_client.get_log(PROJECT, "audit", now - 60, now + 1)
    assert resp.is_completed() and resp.get_count() == 6
    assert no_sdk_sleep == [0.5]


def test_incomplete_until_cleared_returns_fewer_rows(sandbox, sls_client, project, no_sdk_sleep):
    from aliyun.log import GetHistogramsRequest

    now = _indexed_logs(sls_client)
    sandbox.faults.add({"kind": "incomplete", "service": "sls", "count": -1})
    resp = sls_client.get_log(PROJECT, "audit", now - 60, now + 1)
    assert not resp.is_completed() and resp.get_count() == 3
    hist = sls_client.get_histograms(GetHistogramsRequest(PROJECT, "audit", now - 60, now + 1))
    assert not hist.is_completed() and hist.get_total_count() < 6


def test_dropped_connection(sandbox, sls_client, project, no_sdk_sleep):
    sandbox.faults.add({"kind": "drop", "service": "sls"})
    with pytest.raises(LogException) as err:
        sls_client.list_logstore(project)
    assert err.value.get_error_code() == "LogRequestError"
    assert sls_client.list_logstore(project).get_total() == 0


def test_slow_answers_after_the_delay(sandbox, sls_client, project):
    sandbox.faults.add({"kind": "slow", "service": "sls", "delay": 0.3})
    started = time.monotonic()
    assert sls_client.get_project(project).projectName == project
    assert time.monotonic() - started >= 0.3


def test_faults_match_service_and_route_and_are_used_up():
    faults = FaultRegistry()
    faults.add(Fault(kind="5xx", service="ack", route=r"^POST /clusters/.*/install", count=2))
    assert faults.take("sls", "POST", "/clusters/c1/components/install") is None
    assert faults.take("ack", "GET", "/clusters/c1") is None
    assert faults.take("ack", "POST", "/clusters/c1/components/install").kind == "5xx"
    assert faults.list()[0]["count"] == 1
    assert faults.take("ack", "POST", "/clusters/c1/components/install") is not None
    assert faults.list() == []


@pytest.mark.parametrize("bad", [{"kind": "boom"}, {"kind": "5xx", "service": "oss"}, {"kind": "5xx", "count": 0},
                                 {"kind": "slow", "delay": -1}, {"kind": "5xx", "colour": 1}, {"service": "sls"}])
def test_invalid_faults_are_refused(sandbox, bad):
    resp = requests.post(sandbox.url + "/_sandbox/faults", json=bad, timeout=5)
    assert resp.status_code == 400
    assert requests.get(sandbox.url + "/_sandbox/faults", timeout=5).json()["faults"] == []
