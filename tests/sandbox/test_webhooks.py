"""The emulated chat robots: security settings, payload checks and each service's envelope, over HTTP."""

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from urllib.parse import quote_plus

import pytest

from ackaudit.sandbox import open_sandbox
from ackaudit.sandbox.webhooks import register_robot

SECRET = "SEC0123456789abcdef"


def post(sandbox, path, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(sandbox.url + path, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def markdown(title="Kubernetes alert", text="- pod: default/web"):
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def signed_dingtalk(token, secret=SECRET, stamp_ms=None):
    stamp = stamp_ms if stamp_ms is not None else int(time.time() * 1000)
    sign = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest())
    return f"/robot/send?access_token={token}&timestamp={stamp}&sign={quote_plus(sign.decode())}"


def received(sandbox):
    with urllib.request.urlopen(sandbox.url + "/_sandbox/webhooks", timeout=5) as resp:
        return json.loads(resp.read())


def test_an_unregistered_dingtalk_robot_accepts_markdown_and_records_it(sandbox):
    status, body = post(sandbox, "/robot/send?access_token=open", markdown())
    assert (status, json.loads(body)) == (200, {"errcode": 0, "errmsg": "ok"})
    [message] = received(sandbox)["messages"]
    assert message["kind"] == "dingtalk" and message["token"] == "open" and message["accepted"]
    assert message["body"]["markdown"]["title"] == "Kubernetes alert"


def test_a_signed_dingtalk_robot_checks_timestamp_and_signature(sandbox):
    register_robot(sandbox.state, "dingtalk", "tok", secret=SECRET)
    assert json.loads(post(sandbox, signed_dingtalk("tok"), markdown())[1])["errcode"] == 0
    for path, why in ((signed_dingtalk("tok", secret="SECwrong"), "sign not match"),
                      ("/robot/send?access_token=tok", "sign not match"),
                      (signed_dingtalk("tok", stamp_ms=int((time.time() - 7200) * 1000)), "invalid timestamp")):
        status, body = post(sandbox, path, markdown())
        answer = json.loads(body)
        assert status == 200 and answer["errcode"] == 310000 and why in answer["errmsg"]
    assert [m["accepted"] for m in received(sandbox)["messages"]] == [True, False, False, False]


def test_dingtalk_keywords_payload_and_content_type(sandbox):
    register_robot(sandbox.state, "dingtalk", "kw", keywords=["Kubernetes"])
    assert json.loads(post(sandbox, "/robot/send?access_token=kw", markdown())[1])["errcode"] == 0
    refused = json.loads(post(sandbox, "/robot/send?access_token=kw", markdown(title="alert", text="pod"))[1])
    assert refused == {"errcode": 310000, "errmsg": "keywords not in content"}
    assert json.loads(post(sandbox, "/robot/send?access_token=kw", markdown(title=""))[1])["errcode"] == 40035
    assert json.loads(post(sandbox, "/robot/send?access_token=kw", {"msgtype": "image"})[1])["errcode"] == 40035
    wrong_type = post(sandbox, "/robot/send?access_token=kw", markdown(), content_type="text/plain")
    assert json.loads(wrong_type[1])["errcode"] == 43004
    too_long = markdown(text="Kubernetes " + "x" * 20000)
    assert json.loads(post(sandbox, "/robot/send?access_token=kw", too_long)[1])["errcode"] == 460101
    assert json.loads(post(sandbox, "/robot/send", markdown())[1])["errcode"] == 300001


def test_dingtalk_allows_twenty_messages_a_minute(sandbox):
    answers = [json.loads(post(sandbox, "/robot/send?access_token=busy", markdown())[1])["errcode"]
               for _ in range(21)]
    assert answers == [0] * 20 + [130101]


def test_wecom_markdown_and_its_limits(sandbox):
    path = "/cgi-bin/webhook/send?key=k1"
    ok = post(sandbox, path, {"msgtype": "markdown", "markdown": {"content": "### Kubernetes\n- pod"}})
    assert json.loads(ok[1]) == {"errcode": 0, "errmsg": "ok"}
    too_big = {"msgtype": "markdown", "markdown": {"content": "x" * 4097}}
    assert json.loads(post(sandbox, path, too_big)[1])["errcode"] == 40058
    assert json.loads(post(sandbox, path, {"msgtype": "text", "text": {"content": "x" * 2049}})[1])["errcode"] == 40058
    assert json.loads(post(sandbox, path, {"msgtype": "markdown", "markdown": {}})[1])["errcode"] == 44004
    assert json.loads(post(sandbox, path, {"msgtype": "voice"})[1])["errcode"] == 40008
    assert json.loads(post(sandbox, "/cgi-bin/webhook/send", {"msgtype": "text"})[1])["errcode"] == 93000


def test_lark_signs_in_the_body(sandbox):
    register_robot(sandbox.state, "lark", "hook-1", secret="s3cret")
    stamp = int(time.time())
    sign = base64.b64encode(hmac.new(f"{stamp}\ns3cret".encode(), b"", hashlib.sha256).digest())
    card = {"msg_type": "interactive", "card": {"header": {"title": {"tag": "plain_text", "content": "K"}},
                                                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "x"}}]}}
    ok = post(sandbox, "/open-apis/bot/v2/hook/hook-1", {"timestamp": str(stamp), "sign": sign.decode(), **card})
    assert json.loads(ok[1]) == {"code": 0, "msg": "success", "data": {}}
    bad = json.loads(post(sandbox, "/open-apis/bot/v2/hook/hook-1", {"timestamp": str(stamp), "sign": "x", **card})[1])
    assert bad["code"] == 19021
    text = {"msg_type": "text", "content": {"text": "hello"}}
    assert json.loads(post(sandbox, "/open-apis/bot/v2/hook/other", text)[1])["code"] == 0
    assert json.loads(post(sandbox, "/open-apis/bot/v2/hook/other", {"msg_type": "text"})[1])["code"] == 9499


def test_slack_and_generic_webhooks(sandbox):
    assert post(sandbox, "/services/T1/B2/XYZ", {"text": "Kubernetes"}) == (200, "ok")
    assert post(sandbox, "/services/T1/B2/XYZ", {"blocks": "no"}) == (400, "invalid_blocks")
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "\U0001F600" * 3000}}
    assert post(sandbox, "/services/T1/B2/XYZ", {"text": "t", "blocks": [section]}) == (200, "ok")
    section["text"]["text"] += "x"       # a section's text is 3000 characters at most
    assert post(sandbox, "/services/T1/B2/XYZ", {"text": "t", "blocks": [section]}) == (400, "invalid_blocks")
    assert post(sandbox, "/services/T1/B2/XYZ", {}) == (400, "no_text")
    assert post(sandbox, "/services/T1/B2/XYZ", b"not json") == (400, "invalid_payload")
    assert post(sandbox, "/webhook/anything/here", {"title": "t", "text": "x"}) == (200, '{"ok": true}')
    assert post(sandbox, "/webhook/anything", b"[1")[0] == 400
    kinds = [(m["kind"], m["token"]) for m in received(sandbox)["messages"]]
    assert kinds[0] == ("slack", "T1/B2/XYZ") and kinds[-1] == ("webhook", "anything")


def test_robots_are_registered_over_http_and_kept_in_the_world(sandbox):
    req = urllib.request.Request(sandbox.url + "/_sandbox/webhooks/robots", method="POST",
                                 data=json.dumps({"kind": "dingtalk", "token": "t9", "secret": SECRET,
                                                  "keywords": ["Kubernetes"]}).encode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read())["token"] == "t9"
    assert received(sandbox)["robots"][0]["keywords"] == ["Kubernetes"]
    reloaded = open_sandbox(sandbox.state.state_dir)
    assert reloaded.robots["dingtalk:t9"]["secret"] == SECRET
    bad = urllib.request.Request(sandbox.url + "/_sandbox/webhooks/robots", method="POST",
                                 data=json.dumps({"kind": "fax", "token": "x"}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=5)
    assert refused.value.code == 400
    clear = urllib.request.Request(sandbox.url + "/_sandbox/webhooks", method="DELETE")
    post(sandbox, "/webhook/x", {"a": 1})
    urllib.request.urlopen(clear, timeout=5).close()
    assert received(sandbox)["messages"] == []
