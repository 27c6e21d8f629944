"""The sandbox's per-cluster Kubernetes API, read with the real kubernetes client from an ACK kubeconfig."""

from __future__ import annotations

import json

import pytest
import yaml
from aliyunsdkcore.request import CommonRequest

from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

AUDIT = "ack-advanced-audit"


def kube_client(sandbox, acs_client, cluster_id: str):
    from kubernetes import config

    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15",
                        uri_pattern=f"/k8s/{cluster_id}/user_config")
    req.set_method("GET")
    body = json.loads(acs_client.do_action_with_exception(req))
    return config.new_client_from_config_dict(yaml.safe_load(body["config"]))


@pytest.fixture
def api(sandbox, acs_client):
    return kube_client(sandbox, acs_client, AUDITED_CLUSTER_ID)


@pytest.fixture
def core(api):
    from kubernetes import client

    return client.CoreV1Api(api)


@pytest.fixture
def apps(api):
    from kubernetes import client

    return client.AppsV1Api(api)


def _status_of(call) -> tuple[int, dict]:
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def test_discovery_and_version(api, sandbox):
    from kubernetes import client

    version = client.VersionApi(api).get_code()
    assert version.git_version == "v" + sandbox.state.clusters[AUDITED_CLUSTER_ID]["current_version"]
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    assert [g.name for g in client.ApisApi(api).get_api_versions().groups] == ["apps"]
    assert "pods" in [r.name for r in client.CoreV1Api(api).get_api_resources().resources]


def test_nodes_carry_os_kernel_and_node_pool(core, sandbox):
    world = sandbox.state.clusters[AUDITED_CLUSTER_ID]["nodes"]
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == [n["node_name"] for n in world]
    info = nodes[0].status.node_info
    assert (info.os_image, info.kernel_version) == (world[0]["os_image"], world[0]["kernel_version"])
    assert info.operating_system == "linux" and info.container_runtime_version.startswith("containerd://")
    assert [c.status for c in nodes[0].status.conditions if c.type == "Ready"] == ["True"]

    pool = world[0]["nodepool_id"]
    in_pool = core.list_node(label_selector=f"alibabacloud.com/nodepool-id={pool}").items
    assert {n.metadata.name for n in in_pool} == {n["node_name"] for n in world if n["nodepool_id"] == pool}
    assert core.read_node(world[0]["node_name"]).metadata.labels["kubernetes.io/os"] == "linux"
    status, body = _status_of(lambda: core.read_node("no-such-node"))
    assert (status, body["reason"], body["kind"]) == (404, "NotFound", "Status")


def test_pods_by_namespace_and_selectors(core, sandbox):
    world = sandbox.state.clusters[AUDITED_CLUSTER_ID]["pods"]
    assert len(core.list_pod_for_all_namespaces().items) == len(world)
    payments = core.list_namespaced_pod("payments").items
    assert {p.metadata.name for p in payments} == {p["name"] for p in world if p["namespace"] == "payments"}

    def names(**selectors):
        return {p.metadata.name for p in core.list_pod_for_all_namespaces(**selectors).items}

    api_pods = {p["name"] for p in world if p["labels"].get("app") == "payments-api"}
    assert names(label_selector="app=payments-api") == api_pods
    assert names(label_selector="app in (payments-api, payments-worker), tier!=worker") == api_pods
    assert names(label_selector="app=payments-api,!team") == set()
    node = world[0]["node_name"]
    assert names(field_selector=f"spec.nodeName={node}") == {p["name"] for p in world if p["node_name"] == node}
    assert names(field_selector=f"metadata.name={world[0]['name']}") == {world[0]["name"]}

    pod = core.read_namespaced_pod(world[0]["name"], world[0]["namespace"])
    assert pod.status.phase == "Running" and pod.spec.node_name == node
    status, body = _status_of(lambda: core.list_pod_for_all_namespaces(field_selector="spec.schedulerName=x"))
    assert (status, body["reason"]) == (400, "BadRequest")
    status, body = _status_of(lambda: core.read_namespaced_pod("no-such-pod", "payments"))
    assert (status, body["reason"]) == (404, "NotFound")


def test_addon_daemonsets_count_the_nodes_the_audit_agent_covers(apps, sandbox):
    nodes = sandbox.state.clusters[AUDITED_CLUSTER_ID]["nodes"]
    found = apps.list_namespaced_daemon_set("kube-system", field_selector=f"metadata.name={AUDIT}").items
    assert len(found) == 1
    assert (found[0].status.desired_number_scheduled, found[0].status.number_ready) == (len(nodes), len(nodes))
    assert {d.metadata.name for d in apps.list_daemon_set_for_all_namespaces().items} >= {AUDIT, "logtail-ds"}

    with sandbox.state.lock:   # an old kernel on one node: the agent cannot run there
        nodes[0]["kernel_version"] = "4.19.91-27.al7.x86_64"
    status = apps.read_namespaced_daemon_set(AUDIT, "kube-system").status
    assert (status.desired_number_scheduled, status.number_ready, status.number_unavailable) == (
        len(nodes), len(nodes) - 1, 1)
    logtail = apps.read_namespaced_daemon_set("logtail-ds", "kube-system").status
    assert logtail.number_ready == len(nodes)


def test_configmaps_and_namespaces(core):
    configmap = core.read_namespaced_config_map("alibaba-log-configuration", "kube-system")
    assert configmap.data["log-project"] == f"k8s-log-{AUDITED_CLUSTER_ID}"
    assert "alibaba-log-configuration" in [c.metadata.name for c in core.list_namespaced_config_map("kube-system").items]
    assert {"default", "kube-system", "payments"} <= {n.metadata.name for n in core.list_namespace().items}
    status, body = _status_of(lambda: core.read_namespaced_config_map("nope", "kube-system"))
    assert (status, body["reason"]) == (404, "NotFound")


def test_requests_need_a_valid_unexpired_token(core, sandbox):
    from kubernetes import client

    assert core.list_node().items
    with sandbox.state.lock:   # the kubeconfig's token is the one with an expiry
        for user in sandbox.state.clusters[AUDITED_CLUSTER_ID]["users"].values():
            if "expires" in user:
                user["expires"] = 0
    status, body = _status_of(core.list_node)
    assert (status, body["reason"]) == (401, "Unauthorized")

    anonymous = client.Configuration()
    anonymous.host = f"{sandbox.url}/kube/{AUDITED_CLUSTER_ID}"
    status, _ = _status_of(client.CoreV1Api(client.ApiClient(anonymous)).list_node)
    assert status == 401
