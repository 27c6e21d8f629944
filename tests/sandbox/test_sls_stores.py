"""SLS projects, logstores, indexes and shards, parsed by the SDK's own response classes."""

from __future__ import annotations

import json

import pytest
import requests
from aliyun.log import IndexConfig, LogException
from aliyun.log.index_config import IndexKeyConfig, IndexLineConfig

from ackaudit.sandbox.state import SandboxState

PROJECT = "k8s-log-test"


@pytest.fixture
def project(sls_client):
    sls_client.create_project(PROJECT, "audit logs")
    return PROJECT


def _code(call) -> tuple[str, int]:
    with pytest.raises(LogException) as err:
        call()
    return err.value.get_error_code(), err.value.resp_status


def test_project_lifecycle(sls_client, sandbox):
    sls_client.create_project(PROJECT, "audit logs")
    got = sls_client.get_project(PROJECT)
    assert (got.projectName, got.description, got.region) == (PROJECT, "audit logs", "cn-hangzhou")
    assert PROJECT in [p["projectName"] for p in sls_client.list_project().get_projects()]
    assert _code(lambda: sls_client.create_project(PROJECT, "again")) == ("ProjectAlreadyExist", 400)
    sls_client.delete_project(PROJECT)
    assert _code(lambda: sls_client.get_project(PROJECT)) == ("ProjectNotExist", 404)
    assert _code(lambda: sls_client.list_logstore(PROJECT)) == ("ProjectNotExist", 404)


def test_created_logstore_reads_back_with_every_field(sls_client, project):
    sls_client.create_logstore(project, "advaudit-c1", ttl=180, shard_count=2, hot_ttl=30, append_meta=True)
    got = sls_client.get_logstore(project, "advaudit-c1")
    assert (got.get_ttl(), got.get_hot_ttl(), got.get_shard_count(), got.append_meta) == (180, 30, 2, True)
    listed = sls_client.list_logstore(project)
    assert (listed.get_logstores(), listed.get_total()) == (["advaudit-c1"], 1)
    assert _code(lambda: sls_client.create_logstore(project, "advaudit-c1")) == ("LogStoreAlreadyExist", 400)
    assert _code(lambda: sls_client.get_logstore(project, "missing")) == ("LogStoreNotExist", 404)


def test_update_logstore_replaces_the_whole_config(sls_client, project, sandbox):
    sls_client.create_logstore(project, "audit", ttl=180, hot_ttl=30)
    # The SDK sends no hot_ttl unless told: the documented whole-config PUT drops it.
    sls_client.update_logstore(project, "audit", ttl=90)
    assert sls_client.get_logstore(project, "audit").get_hot_ttl() == -1
    sls_client.update_logstore(project, "audit", ttl=60, hot_ttl=30)
    got = sls_client.get_logstore(project, "audit")
    assert (got.get_ttl(), got.get_hot_ttl()) == (60, 30)
    saved = SandboxState.load(sandbox.state.state_dir)
    assert saved.projects[project]["logstores"]["audit"]["ttl"] == 60


@pytest.mark.parametrize("kwargs", [{"ttl": 0}, {"ttl": 3651}, {"ttl": 30, "hot_ttl": 60}, {"ttl": 30, "hot_ttl": 3}])
def test_logstore_limits_are_enforced(sls_client, project, kwargs):
    assert _code(lambda: sls_client.create_logstore(project, "audit", **kwargs)) == ("LogStoreInfoInvalid", 400)


def test_unknown_logstore_keys_are_redundant(sandbox, sls_client, project):
    from aliyun.log.auth import AuthV1
    from aliyun.log.credentials import StaticCredentialsProvider

    body = json.dumps({"logstoreName": "audit", "ttl": 30, "shardCount": 2, "colour": "blue"}).encode()
    headers = {"x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "0", "Content-Type": "application/json",
               "Host": f"{project}.127.0.0.1"}
    AuthV1(StaticCredentialsProvider("sandbox", "sandbox", None)).sign_request("POST", "/logstores", {}, headers, body)
    resp = requests.post(sandbox.url + "/logstores", data=body, headers=headers, timeout=5)
    assert resp.status_code == 400
    assert resp.json() == {"errorCode": "LogStoreInfoInvalid", "errorMessage": "redundant key exist in json"}


def test_json_apis_check_the_content_type(sandbox, sls_client, project):
    from aliyun.log.auth import AuthV1
    from aliyun.log.credentials import StaticCredentialsProvider

    body = json.dumps({"logstoreName": "audit", "ttl": 30, "shardCount": 2}).encode()
    for content_type, expected in (("text/plain", (415, "InvalidContentType")), (None, (400, "MissingContentType"))):
        headers = {"x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "0", "Host": f"{project}.127.0.0.1"}
        if content_type:
            headers["Content-Type"] = content_type
        AuthV1(StaticCredentialsProvider("sandbox", "sandbox", None)).sign_request("POST", "/logstores", {},
                                                                                  headers, body)
        resp = requests.post(sandbox.url + "/logstores", data=body, headers=headers, timeout=5)
        assert (resp.status_code, resp.json()["errorCode"]) == expected


def test_delete_logstore(sls_client, project):
    sls_client.create_logstore(project, "audit")
    sls_client.delete_logstore(project, "audit")
    assert sls_client.list_logstore(project).get_logstores() == []
    assert _code(lambda: sls_client.delete_logstore(project, "audit")) == ("LogStoreNotExist", 404)


def test_index_lifecycle(sls_client, project, sandbox):
    sls_client.create_logstore(project, "audit")
    assert _code(lambda: sls_client.get_index_config(project, "audit")) == ("IndexConfigNotExist", 404)
    index = IndexConfig(line_config=IndexLineConfig(), key_config_list={"process.name": IndexKeyConfig()})
    sls_client.create_index(project, "audit", index)
    got = sls_client.get_index_config(project, "audit").get_index_config()
    assert list(got.key_config_list) == ["process.name"]
    assert _code(lambda: sls_client.create_index(project, "audit", index)) == ("IndexAlreadyExist", 400)
    sls_client.update_index(project, "audit", IndexConfig(line_config=IndexLineConfig()))
    assert sls_client.get_index_config(project, "audit").get_index_config().key_config_list == {}
    sls_client.delete_index(project, "audit")
    assert _code(lambda: sls_client.delete_index(project, "audit")) == ("IndexConfigNotExist", 404)


def test_shards_cover_the_hash_space(sls_client, project):
    sls_client.create_logstore(project, "audit", shard_count=4)
    shards = sls_client.list_shards(project, "audit").get_shards_info()
    assert [s["shardID"] for s in shards] == [0, 1, 2, 3]
    assert shards[0]["inclusiveBeginKey"] == "0" * 32 and shards[-1]["exclusiveEndKey"] == "f" * 32
    assert all(a["exclusiveEndKey"] == b["inclusiveBeginKey"] for a, b in zip(shards, shards[1:], strict=False))

