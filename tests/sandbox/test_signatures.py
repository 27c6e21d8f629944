"""Requests signed by the real SDKs pass; wrong keys, tampered bodies and stale dates do not."""

from __future__ import annotations

import time

import pytest
import requests
from aliyun.log import LogClient, LogException

from ackaudit.sandbox import signatures
from ackaudit.sandbox.http import Request

PROJECT = "sig-probe"


def _client(sandbox, secret="sandbox", key="sandbox", auth_version="v1"):
    client = LogClient(sandbox.url, key, secret, source="127.0.0.1", auth_version=auth_version,
                       region="cn-hangzhou")
    client._isRowIp = True
    client.timeout = 5
    return client


@pytest.mark.parametrize("auth_version", ["v1", "v4"])
def test_sls_signatures_of_the_sdk_verify(sandbox, auth_version):
    client = _client(sandbox, auth_version=auth_version)
    client.create_project(PROJECT, "probe")
    # Special characters in query values are signed raw (v1) or percent-encoded (v4).
    listed = client.list_logstore(PROJECT, "a b&c=d/é+~")
    assert listed.get_logstores() == []
    assert client.get_project(PROJECT).get_all_headers()["x-log-requestid"]


@pytest.mark.parametrize("auth_version", ["v1", "v4"])
def test_sls_wrong_secret_is_signature_not_match(sandbox, auth_version):
    with pytest.raises(LogException) as err:
        _client(sandbox, secret="wrong", auth_version=auth_version).list_project()
    assert (err.value.get_error_code(), err.value.resp_status) == ("SignatureNotMatch", 401)
    assert err.value.get_request_id()


def test_sls_unknown_access_key_is_rejected(sandbox):
    with pytest.raises(LogException) as err:
        _client(sandbox, key="LTAIunknown").list_project()
    assert (err.value.get_error_code(), err.value.resp_status) == ("InvalidAccessKeyId", 401)


def _signed_sls_request(method, resource, body, headers):
    from aliyun.log.auth import AuthV1
    from aliyun.log.credentials import StaticCredentialsProvider

    headers = {"x-log-apiversion": "0.6.0", "x-log-bodyrawsize": str(len(body)), **headers}
    AuthV1(StaticCredentialsProvider("sandbox", "sandbox", None)).sign_request(method, resource, {}, headers, body)
    return headers


def test_sls_tampered_body_fails_content_md5(sandbox, sls_client):
    sls_client.create_project(PROJECT, "probe")
    body = b'{"logstoreName": "audit", "ttl": 30, "shardCount": 2}'
    headers = _signed_sls_request("POST", "/logstores", body,
                                  {"Content-Type": "application/json", "Host": f"{PROJECT}.127.0.0.1"})
    tampered = body.replace(b"30", b"31")
    resp = requests.post(sandbox.url + "/logstores", data=tampered, headers=headers, timeout=5)
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "InvalidContentMD5"
    assert resp.headers["x-log-requestid"]
    untouched = requests.post(sandbox.url + "/logstores", data=body, headers=headers, timeout=5)
    assert untouched.status_code == 200


def test_sls_date_skew_over_fifteen_minutes_is_rejected():
    headers = _signed_sls_request("GET", "/logstores", b"", {"Host": "p.127.0.0.1"})
    req = Request("GET", "/logstores", [], {k.lower(): v for k, v in headers.items()}, b"", "p.127.0.0.1")
    creds = {"sandbox": "sandbox"}
    assert signatures.verify_sls(req, creds) is None
    assert signatures.verify_sls(req, creds, now=time.time() + 14 * 60) is None
    late = signatures.verify_sls(req, creds, now=time.time() + 16 * 60)
    assert (late.status, late.code) == (400, "RequestTimeExpired")


def _roa_request(sandbox, path="/api/v1/clusters"):
    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15", uri_pattern=path)
    req.set_method("GET")
    return req


def test_roa_signature_of_the_sdk_verifies(sandbox, acs_client):
    body = acs_client.do_action_with_exception(_roa_request(sandbox))
    assert b"clusters" in body


def test_roa_wrong_secret_is_signature_does_not_match(sandbox):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient

    client = AcsClient("sandbox", "wrong", "cn-hangzhou", timeout=5, auto_retry=False)
    with pytest.raises(ServerException) as err:
        client.do_action_with_exception(_roa_request(sandbox))
    assert (err.value.get_error_code(), err.value.get_http_status()) == ("SignatureDoesNotMatch", 400)
    assert err.value.get_request_id()


def test_roa_unknown_access_key_is_not_found(sandbox):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient

    client = AcsClient("LTAIunknown", "x", "cn-hangzhou", timeout=5, auto_retry=False)
    with pytest.raises(ServerException) as err:
        client.do_action_with_exception(_roa_request(sandbox))
    assert (err.value.get_error_code(), err.value.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def _roa_signed_headers(method, path, body, content_type):
    """Headers signed by aliyun-python-sdk-core's own ROA composer."""
    import base64
    import hashlib

    from aliyunsdkcore.auth.composer import roa_signature_composer

    headers = {"Content-Type": content_type, "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
               "x-acs-version": "2015-12-15", "x-acs-region-id": "cn-hangzhou"}
    signed, _ = roa_signature_composer.get_signature_headers({"RegionId": "cn-hangzhou"}, "sandbox", "sandbox",
                                                             "JSON", headers, path, None, method)
    return signed


def test_roa_tampered_body_fails_content_md5(sandbox):
    body = b'[{"name": "logtail-ds"}]'
    headers = _roa_signed_headers("POST", "/clusters/nope/components/install", body, "application/json")
    tampered = body.replace(b"logtail", b"bogus--")
    resp = requests.post(sandbox.url + "/clusters/nope/components/install?RegionId=cn-hangzhou",
                         data=tampered, headers=headers, timeout=5)
    assert resp.status_code == 400
    assert resp.json()["Code"] == "InvalidContentMD5"
    assert set(resp.json()) == {"Code", "Message", "RequestId", "HostId"}
    assert resp.headers["x-acs-request-id"] == resp.json()["RequestId"]


def test_roa_verifier_checks_date_skew_and_missing_authorization():
    body = b""
    headers = _roa_signed_headers("GET", "/addons", body, "application/json")
    req = Request("GET", "/addons", [("RegionId", "cn-hangzhou")], {k.lower(): v for k, v in headers.items()},
                  body, "cs.cn-hangzhou.aliyuncs.com")
    creds = {"sandbox": "sandbox"}
    assert signatures.verify_acs_roa(req, creds) is None
    late = signatures.verify_acs_roa(req, creds, now=time.time() - 16 * 60)
    assert late.code == "InvalidTimeStamp.Expired"
    req.headers.pop("authorization")
    assert signatures.verify_acs_roa(req, creds).code == "MissingAuthorization"
