"""The sandbox's addon catalog, instances and install/uninstall tasks, through the real SDKs."""

from __future__ import annotations

import json
import time

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import CommonRequest

from ackaudit.sandbox.world_clusters import (
    AUDITED_CLUSTER_ID,
    ELIGIBLE_CLUSTER_ID,
    INELIGIBLE_CLUSTER_ID,
    SERVERLESS_CLUSTER_ID,
)

AUDIT = "ack-advanced-audit"


@pytest.fixture
def fast_tasks(sandbox):
    sandbox.state.settings["task_delay"] = 0.15
    return sandbox


def ack(sandbox, acs_client, method: str, path: str, query: dict | None = None, body=None,
        content_type: str = "application/json") -> dict:
    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15", uri_pattern=path)
    req.set_method(method)
    for key, value in (query or {}).items():
        req.add_query_param(key, value)
    if body is not None:
        req.set_content(body if isinstance(body, bytes) else json.dumps(body).encode())
        req.set_content_type(content_type)
    return json.loads(acs_client.do_action_with_exception(req))


def ack_error(*args, **kwargs) -> tuple[int, dict]:
    with pytest.raises(ServerException) as caught:
        ack(*args, **kwargs)
    return caught.value.get_http_status(), json.loads(caught.value.get_error_msg().split("ServerResponseBody: ", 1)[1])


def install(sandbox, acs_client, cluster_id: str, *names: str) -> str:
    """Install with the typed 4.8.1 request (no body setter: content and type set by hand)."""
    from aliyunsdkcs.request.v20151215.InstallClusterAddonsRequest import InstallClusterAddonsRequest

    req = InstallClusterAddonsRequest()
    req.set_endpoint(f"127.0.0.1:{sandbox.port}")
    req.set_ClusterId(cluster_id)
    req.set_content(json.dumps([{"name": n, "version": "", "config": ""} for n in names]).encode())
    req.set_content_type("application/json")
    body = json.loads(acs_client.do_action_with_exception(req))
    assert body["cluster_id"] == cluster_id and body["request_id"]
    return body["task_id"]


def wait_for_task(sandbox, acs_client, task_id: str) -> dict:
    deadline = time.time() + 5
    while True:
        task = ack(sandbox, acs_client, "GET", f"/tasks/{task_id}")
        if task["state"] != "running" or time.time() > deadline:
            return task
        time.sleep(0.05)


def instance(sandbox, acs_client, cluster_id: str, name: str) -> dict:
    return ack(sandbox, acs_client, "GET", f"/clusters/{cluster_id}/addon_instances/{name}")


def test_list_addons_and_describe_addon_expose_versions_and_schema(sandbox, acs_client):
    listed = ack(sandbox, acs_client, "GET", "/addons", {"cluster_id": ELIGIBLE_CLUSTER_ID})["addons"]
    audit = next(a for a in listed if a["name"] == AUDIT)
    assert audit["version"] == "0.9.0" and audit["category"] == "security"
    assert "properties" in json.loads(audit["config_schema"])
    # The catalog also lists the audit addon for a cluster type it does not support.
    serverless = ack(sandbox, acs_client, "GET", "/addons", {"cluster_id": SERVERLESS_CLUSTER_ID})["addons"]
    assert AUDIT in [a["name"] for a in serverless]

    described = ack(sandbox, acs_client, "GET", f"/addons/{AUDIT}", {"cluster_id": ELIGIBLE_CLUSTER_ID})
    assert described["newer_versions"][0] == {"version": "0.9.0", "upgradable": True,
                                              "minimum_cluster_version": "1.18.0"}
    assert [v["version"] for v in described["newer_versions"]][-1] == "0.1.0"
    installed = ack(sandbox, acs_client, "GET", f"/addons/{AUDIT}", {"cluster_id": AUDITED_CLUSTER_ID})
    assert installed["newer_versions"] == []    # 0.9.0 is installed there

    assert ack_error(sandbox, acs_client, "GET", "/addons/no-such-addon", {"cluster_id": ELIGIBLE_CLUSTER_ID})[
        1]["code"] == "AddonNotFound"
    assert ack_error(sandbox, acs_client, "GET", "/addons")[0] == 400


def test_addon_instances_list_and_get(sandbox, acs_client):
    listed = ack(sandbox, acs_client, "GET", f"/clusters/{AUDITED_CLUSTER_ID}/addon_instances")["addons"]
    assert {"name": AUDIT, "version": "0.9.0", "state": "active"} in listed
    assert instance(sandbox, acs_client, AUDITED_CLUSTER_ID, AUDIT)["state"] == "active"
    status, body = ack_error(sandbox, acs_client, "GET", f"/clusters/{ELIGIBLE_CLUSTER_ID}/addon_instances/{AUDIT}")
    assert (status, body["code"]) == (404, "AddonNotFound")


def test_install_runs_a_task_then_creates_the_audit_logstore(fast_tasks, acs_client, sls_client):
    sandbox = fast_tasks
    task_id = install(sandbox, acs_client, ELIGIBLE_CLUSTER_ID, AUDIT)
    running = ack(sandbox, acs_client, "GET", f"/tasks/{task_id}")
    assert running["state"] == "running" and running["cluster_id"] == ELIGIBLE_CLUSTER_ID
    assert running["current_stage"] and running["task_result"] == [{"data": AUDIT, "status": "initial"}]
    assert instance(sandbox, acs_client, ELIGIBLE_CLUSTER_ID, AUDIT)["state"] == "installing"

    done = wait_for_task(sandbox, acs_client, task_id)
    assert done["state"] == "success" and "error" not in done
    assert all(stage["state"] == "success" and stage["end_time"] for stage in done["stages"])
    assert instance(sandbox, acs_client, ELIGIBLE_CLUSTER_ID, AUDIT) | {"config": ""} == {
        "name": AUDIT, "version": "0.9.0", "state": "active", "config": "",
        "logging": {"capable": False, "enabled": False, "log_project": "", "logstore": ""}}

    logstore = sls_client.get_logstore(f"k8s-log-{ELIGIBLE_CLUSTER_ID}", f"advaudit-{ELIGIBLE_CLUSTER_ID}")
    assert logstore.get_ttl() == 180
    index = sls_client.get_index_config(f"k8s-log-{ELIGIBLE_CLUSTER_ID}", f"advaudit-{ELIGIBLE_CLUSTER_ID}")
    assert "kind" in index.get_index_config().key_config_list

    status, body = ack_error(sandbox, acs_client, "POST", f"/clusters/{ELIGIBLE_CLUSTER_ID}/components/install",
                             body=[{"name": AUDIT, "version": "0.9.0", "config": ""}])
    assert (status, body["code"]) == (400, "AddonAlreadyInstalled")


def test_install_without_an_index_when_the_setting_says_so(fast_tasks, acs_client):
    sandbox = fast_tasks
    sandbox.state.settings["install_creates_index"] = False
    wait_for_task(sandbox, acs_client, install(sandbox, acs_client, ELIGIBLE_CLUSTER_ID, AUDIT))
    project = sandbox.state.projects[f"k8s-log-{ELIGIBLE_CLUSTER_ID}"]
    assert f"advaudit-{ELIGIBLE_CLUSTER_ID}" in project["logstores"]
    assert f"advaudit-{ELIGIBLE_CLUSTER_ID}" not in project["indexes"]


def test_uninstall_removes_the_addon_but_keeps_the_logstore(fast_tasks, acs_client, sls_client):
    sandbox = fast_tasks
    body = ack(sandbox, acs_client, "POST", f"/clusters/{AUDITED_CLUSTER_ID}/components/uninstall",
               body=[{"name": AUDIT, "cleanup_cloud_resources": False}])
    assert instance(sandbox, acs_client, AUDITED_CLUSTER_ID, AUDIT)["state"] == "deleting"
    assert wait_for_task(sandbox, acs_client, body["task_id"])["state"] == "success"
    status, err = ack_error(sandbox, acs_client, "GET", f"/clusters/{AUDITED_CLUSTER_ID}/addon_instances/{AUDIT}")
    assert (status, err["code"]) == (404, "AddonNotFound")
    pods = sandbox.state.clusters[AUDITED_CLUSTER_ID]["pods"]
    assert not [p for p in pods if p["labels"].get("app") == AUDIT]
    assert sls_client.get_logstore(f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}").get_ttl()

    status, err = ack_error(sandbox, acs_client, "POST", f"/clusters/{AUDITED_CLUSTER_ID}/components/uninstall",
                            body=[{"name": AUDIT}])
    assert (status, err["code"]) == (404, "AddonNotFound")


def test_a_failing_install_reports_its_error_and_installs_nothing(fast_tasks, acs_client):
    sandbox = fast_tasks
    sandbox.state.settings["fail_install"] = [AUDIT]
    task = wait_for_task(sandbox, acs_client, install(sandbox, acs_client, ELIGIBLE_CLUSTER_ID, AUDIT))
    assert task["state"] == "fail"
    assert task["error"]["code"] == "AddonInstallFailed" and AUDIT in task["error"]["message"]
    assert task["stages"][-1]["state"] == "fail" and task["task_result"][0]["status"] == "failed"
    assert ack_error(sandbox, acs_client, "GET",
                     f"/clusters/{ELIGIBLE_CLUSTER_ID}/addon_instances/{AUDIT}")[1]["code"] == "AddonNotFound"
    assert f"advaudit-{ELIGIBLE_CLUSTER_ID}" not in sandbox.state.projects[f"k8s-log-{ELIGIBLE_CLUSTER_ID}"]["logstores"]


def test_the_audit_addon_needs_the_log_component(fast_tasks, acs_client):
    sandbox = fast_tasks
    task = wait_for_task(sandbox, acs_client, install(sandbox, acs_client, INELIGIBLE_CLUSTER_ID, AUDIT))
    assert task["state"] == "fail" and task["error"]["code"] == "AddonDependencyNotMet"
    assert "logtail-ds" in task["error"]["message"]


def test_installing_the_log_component_with_the_audit_addon_sets_up_the_project(fast_tasks, acs_client):
    sandbox = fast_tasks
    cluster = sandbox.state.clusters[INELIGIBLE_CLUSTER_ID]
    task = wait_for_task(sandbox, acs_client, install(sandbox, acs_client, INELIGIBLE_CLUSTER_ID,
                                                      AUDIT, "loongcollector"))
    assert task["state"] == "success"
    configmap = cluster["configmaps"]["kube-system/alibaba-log-configuration"]
    assert configmap["log-project"] == f"k8s-log-{INELIGIBLE_CLUSTER_ID}"
    project = sandbox.state.projects[configmap["log-project"]]
    assert project["logstores"][f"advaudit-{INELIGIBLE_CLUSTER_ID}"]["ttl"] == 180


def test_the_audit_addon_is_refused_on_a_cluster_type_it_does_not_support(sandbox, acs_client):
    status, body = ack_error(sandbox, acs_client, "POST", f"/clusters/{SERVERLESS_CLUSTER_ID}/components/install",
                             body=[{"name": AUDIT, "version": "", "config": ""}])
    assert (status, body["code"]) == (400, "AddonNotSupported")


@pytest.mark.parametrize(("body", "content_type"), [
    ([{"name": AUDIT, "version": "", "config": ""}], "application/octet-stream"),
    ([{"name": AUDIT, "version": "", "config": ""}], "application/x-www-form-urlencoded"),
    ({"name": AUDIT, "version": "", "config": ""}, "application/json"),
    (b"not json", "application/json"),
    ([], "application/json"),
    ([{"name": "no-such-addon", "version": "", "config": ""}], "application/json"),
    ([{"name": AUDIT, "version": "9.9.9", "config": ""}], "application/json"),
    ([{"name": AUDIT, "version": "", "config": {"cpuLimit": "1"}}], "application/json"),
    ([{"name": AUDIT, "version": "", "config": "not json"}], "application/json"),
    ([{"name": AUDIT, "version": "", "config": ""}, {"name": AUDIT, "version": "", "config": ""}],
     "application/json"),
])
def test_install_rejects_malformed_requests(sandbox, acs_client, body, content_type):
    status, err = ack_error(sandbox, acs_client, "POST", f"/clusters/{ELIGIBLE_CLUSTER_ID}/components/install",
                            body=body, content_type=content_type)
    assert (status, err["code"]) == (400, "InvalidParameter")
    assert AUDIT not in sandbox.state.clusters[ELIGIBLE_CLUSTER_ID]["addons"]


def test_unknown_task_is_task_not_found(sandbox, acs_client):
    status, body = ack_error(sandbox, acs_client, "GET", "/tasks/T-nope")
    assert (status, body["code"]) == (404, "TaskNotFound")
