"""The sandbox's ACK clusters, nodes, node pools and kubeconfig APIs, driven by the real core SDK."""

from __future__ import annotations

import json

import pytest
import yaml
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import CommonRequest

from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID
from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID


def _domain(sandbox) -> str:
    return f"127.0.0.1:{sandbox.port}"


def request(sandbox, method: str, path: str, version: str = "2015-12-15") -> CommonRequest:
    req = CommonRequest(domain=_domain(sandbox), version=version, uri_pattern=path)
    req.set_method(method)
    return req


def ack(sandbox, acs_client, method: str, path: str, query: dict | None = None) -> dict:
    req = request(sandbox, method, path)
    for key, value in (query or {}).items():
        req.add_query_param(key, value)
    return json.loads(acs_client.do_action_with_exception(req))


def ack_error(sandbox, acs_client, method: str, path: str, query: dict | None = None) -> tuple[int, dict]:
    """(HTTP status, body) of a failing call; the core SDK only quotes ACK's lower-case body."""
    with pytest.raises(ServerException) as caught:
        ack(sandbox, acs_client, method, path, query)
    err = caught.value
    assert err.get_error_code() == "SDK.UnknownServerError"
    return err.get_http_status(), json.loads(err.get_error_msg().split("ServerResponseBody: ", 1)[1])


def typed(sandbox, request):
    request.set_endpoint(_domain(sandbox))
    return request


def test_describe_clusters_v1_pages_and_filters_with_the_typed_request(sandbox, acs_client):
    from aliyunsdkcs.request.v20151215.DescribeClustersV1Request import DescribeClustersV1Request

    everything = json.loads(acs_client.do_action_with_exception(typed(sandbox, DescribeClustersV1Request())))
    total = everything["page_info"]["total_count"]
    assert total == len(sandbox.state.clusters) and total >= 2
    first = everything["clusters"][0]
    assert isinstance(first["meta_data"], str) and isinstance(json.loads(first["meta_data"]), dict)

    paged = DescribeClustersV1Request()
    paged.set_page_size(1)
    paged.set_page_number(2)
    page = json.loads(acs_client.do_action_with_exception(typed(sandbox, paged)))
    assert page["page_info"] == {"page_number": 2, "page_size": 1, "total_count": total}
    assert page["clusters"][0]["cluster_id"] == everything["clusters"][1]["cluster_id"]

    by_name = DescribeClustersV1Request()
    by_name.set_Name(sandbox.state.clusters[AUDITED_CLUSTER_ID]["name"])
    named = json.loads(acs_client.do_action_with_exception(typed(sandbox, by_name)))
    assert [c["cluster_id"] for c in named["clusters"]] == [AUDITED_CLUSTER_ID]

    by_type = ack(sandbox, acs_client, "GET", "/api/v1/clusters", {"cluster_type": "NoSuchType"})
    assert by_type["clusters"] == [] and by_type["page_info"]["total_count"] == 0


def test_describe_cluster_detail_serialises_meta_data_and_master_url_as_strings(sandbox, acs_client):
    from aliyunsdkcs.request.v20151215.DescribeClusterDetailRequest import DescribeClusterDetailRequest

    req = typed(sandbox, DescribeClusterDetailRequest())
    req.set_ClusterId(AUDITED_CLUSTER_ID)
    detail = json.loads(acs_client.do_action_with_exception(req))
    assert detail["cluster_id"] == AUDITED_CLUSTER_ID and detail["state"] == "running"
    assert json.loads(detail["meta_data"])["KubernetesVersion"]
    assert json.loads(detail["master_url"])["api_server_endpoint"] == f"{sandbox.url}/kube/{AUDITED_CLUSTER_ID}"


def test_unknown_cluster_is_error_cluster_not_found_in_the_lower_case_envelope(sandbox, acs_client):
    status, body = ack_error(sandbox, acs_client, "GET", "/clusters/c-missing")
    assert status == 404
    assert body["code"] == "ErrorClusterNotFound" and body["status"] == 404 and body["requestId"]
    status, body = ack_error(sandbox, acs_client, "GET", "/clusters/c-missing/nodes")
    assert (status, body["code"]) == (404, "ErrorClusterNotFound")


def test_describe_cluster_nodes_pages_within_one_to_a_hundred(sandbox, acs_client):
    from aliyunsdkcs.request.v20151215.DescribeClusterNodesRequest import DescribeClusterNodesRequest

    req = typed(sandbox, DescribeClusterNodesRequest())
    req.set_ClusterId(AUDITED_CLUSTER_ID)
    req.set_pageSize(2)
    body = json.loads(acs_client.do_action_with_exception(req))
    nodes = sandbox.state.clusters[AUDITED_CLUSTER_ID]["nodes"]
    assert body["page"] == {"page_number": 1, "page_size": 2, "total_count": len(nodes)}
    assert [n["instance_id"] for n in body["nodes"]] == [n["instance_id"] for n in nodes[:2]]
    assert body["nodes"][0]["ip_address"] == [nodes[0]["ip"]] and body["nodes"][0]["node_status"] == "Ready"

    status, err = ack_error(sandbox, acs_client, "GET", f"/clusters/{AUDITED_CLUSTER_ID}/nodes", {"pageSize": 101})
    assert (status, err["code"]) == (400, "InvalidParameter")


def test_describe_cluster_node_pools_reports_image_types(sandbox, acs_client):
    body = ack(sandbox, acs_client, "GET", f"/clusters/{AUDITED_CLUSTER_ID}/nodepools")
    pools = sandbox.state.clusters[AUDITED_CLUSTER_ID]["nodepools"]
    assert [p["nodepool_info"]["nodepool_id"] for p in body["nodepools"]] == [p["nodepool_id"] for p in pools]
    first = body["nodepools"][0]
    assert first["scaling_group"]["image_type"] == pools[0]["image_type"]
    assert first["status"]["state"] == "active" and first["status"]["total_nodes"] >= 1


def test_user_kubeconfig_points_at_the_cluster_and_registers_the_caller(sandbox, acs_client):
    from aliyunsdkcs.request.v20151215.DescribeClusterUserKubeconfigRequest import (
        DescribeClusterUserKubeconfigRequest,
    )

    req = typed(sandbox, DescribeClusterUserKubeconfigRequest())
    req.set_ClusterId(ELIGIBLE_CLUSTER_ID)
    req.set_PrivateIpAddress("false")
    req.add_query_param("TemporaryDurationMinutes", 60)
    body = json.loads(acs_client.do_action_with_exception(req))
    kubeconfig = yaml.safe_load(body["config"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"{sandbox.url}/kube/{ELIGIBLE_CLUSTER_ID}"
    token = kubeconfig["users"][0]["user"]["token"]
    user = sandbox.state.clusters[ELIGIBLE_CLUSTER_ID]["users"][token]
    assert user["username"] == SANDBOX_ACCOUNT_ID and user["aliuid"] == SANDBOX_ACCOUNT_ID
    assert body["expiration"].endswith("Z")

    again = json.loads(acs_client.do_action_with_exception(req))
    assert yaml.safe_load(again["config"])["users"][0]["user"]["token"] != token   # temporary: a new one each time
    lasting = ack(sandbox, acs_client, "GET", f"/k8s/{ELIGIBLE_CLUSTER_ID}/user_config")
    assert lasting["config"] == ack(sandbox, acs_client, "GET", f"/k8s/{ELIGIBLE_CLUSTER_ID}/user_config")["config"]


@pytest.mark.parametrize("query", [{"PrivateIpAddress": False}, {"PrivateIpAddress": "yes"},
                                   {"TemporaryDurationMinutes": 14}, {"TemporaryDurationMinutes": 4321},
                                   {"TemporaryDurationMinutes": "soon"}])
def test_user_kubeconfig_rejects_bad_parameters(sandbox, acs_client, query):
    # The core SDK sends a Python bool as "False"; the service only accepts "true"/"false".
    status, body = ack_error(sandbox, acs_client, "GET", f"/k8s/{ELIGIBLE_CLUSTER_ID}/user_config", query)
    assert (status, body["code"]) == (400, "InvalidParameter")
    assert next(iter(query)) in body["message"]


def test_unknown_route_and_api_version_are_rejected(sandbox, acs_client):
    status, body = ack_error(sandbox, acs_client, "GET", "/no/such/api")
    assert (status, body["code"]) == (404, "InvalidAction.NotFound")
    req = request(sandbox, "GET", "/api/v1/clusters", version="2018-01-01")
    with pytest.raises(ServerException) as caught:
        acs_client.do_action_with_exception(req)
    assert '"InvalidVersion"' in caught.value.get_error_msg()
