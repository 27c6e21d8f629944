"""The bundled alert definitions: the guide's queries and template bodies, validation, rendering,
and the pure helpers around them (drift detection, the policy script, URLs, masking, signing)."""

import json

import pytest

from ackaudit.errors import UsageError
from ackaudit.services import alert_channels as channels
from ackaudit.services.alert_definitions import (
    DefinitionError,
    fields,
    load_definitions,
    parse_rule,
    parse_template,
    render,
    selected,
)
from ackaudit.services.alert_objects import differences, policy_script, template

# ACK's container operation audit guide, as published (the Chinese original), verbatim.
SEED_EXEC_QUERY = (
    "kind: Kubernetes and kubeObject.operation.kind: PodExec | select \"clusterid\", \"time\", \"traceId\", "
    "\"eventId\", \"k8s.user.aliuid\", \"k8s.user.username\", json_extract(k8s, '$.user.groups') as "
    "\"k8s.user.groups\", \"host.hostip\", \"host.nodename\", \"k8s.pod.namespace\", \"k8s.pod.name\", "
    "json_extract(k8s, '$.pod.labels') as \"k8s.pod.labels\", \"kubeobject.operation.podexecoptions.container\", "
    "json_extract(kubeobject, '$.operation.podExecOptions.command') as "
    "\"kubeobject.operation.podexecoptions.command\", \"kubeobject.operation.podexecoptions.commandstr\" from log"
)
SEED_RISKY_QUERY = (
    "kind: Command | select \"clusterid\", \"time\", \"traceId\", \"eventId\", \"k8s.user.aliuid\", "
    "\"k8s.user.username\", json_extract(k8s, '$.user.groups') as \"k8s.user.groups\", \"host.hostip\", "
    "\"host.nodename\", \"k8s.pod.namespace\", \"k8s.pod.name\", json_extract(k8s, '$.pod.labels') as "
    "\"k8s.pod.labels\", \"k8s.container.name\", \"k8s.container.image\", \"process.cwd\", \"process.name\", "
    "\"process.cmdline\", json_extract(process, '$.pid') as \"process.pid\", \"process.user.uid\", "
    "json_extract(process, '$.parentPid') as \"process.parentpid\", \"process.parentname\" from log where "
    "\"process.name\" in ('rm', 'sudo', 'su', 'nsenter', 'curl', 'wget', 'yum', 'apt-get', 'apt', 'apk', "
    "'dpkg', 'nc', 'ncat', 'ssh', 'scp', 'nmap', 'docker', 'crictl', 'nerdctl', 'podman', 'kubectl', 'helm', "
    "'mysql', 'redis', 'psql', 'redis-cli', 'pip', 'npm', 'gem')"
)
_F = "{{ alert.results[0].fire_result['%s'] }}"
_HEAD = ("- 告警规则:${alert_name} - 触发时间:${alert_time} - 告警严重度:${severity} - 集群ID:" + _F % "clusterid")
_WHO = ("操作次数:{{ alert.fire_results_count }} 次,下面是其中一次操作的具体信息: - 操作时间:" + _F % "time"
        + " {% if alert.results[0].fire_result['k8s.user.aliuid'] -%} - 操作账号:" + _F % "k8s.user.aliuid"
        + " {% else -%} - 操作账号:" + _F % "k8s.user.username" + " {% endif -%} - 命名空间:"
        + _F % "k8s.pod.namespace" + " - Pod:" + _F % "k8s.pod.name")
_LINKS = "[[详情](${query_url})] [[设置](${alert_url})]"
SEED_ENTER_BODY = (f"{_HEAD} 有账号通过 kubectl exec或终端功能进入了容器,请检查是否存在异常。 {_WHO} - 容器:"
                   + _F % "kubeobject.operation.podexecoptions.container" + " - 命令:"
                   + _F % "kubeobject.operation.podexecoptions.commandstr" + f" {_LINKS}")
SEED_DANGER_BODY = (f"{_HEAD} 有账号通过 kubectl exec或终端功能进入容器后执行了存在风险的程序命令,请检查是否存在异常。 "
                    f"{_WHO} - 容器:" + _F % "k8s.container.name" + " - 操作目录:" + _F % "process.cwd"
                    + " - 执行的程序命令:" + _F % "process.cmdline" + f" {_LINKS}")
ENTER, DANGER = "ack-container-operation-audit-alert-enter", "ack-container-operation-audit-alert-run-danger-cmd"


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_the_rules_are_the_guides_two_alerts():
    defs = load_definitions()
    exec_rule, risky_rule = defs.rules
    assert (exec_rule.key, exec_rule.severity, exec_rule.template_id) == ("exec", 2, ENTER)
    assert (risky_rule.key, risky_rule.severity, risky_rule.template_id) == ("risky", 6, DANGER)
    assert exec_rule.query == SEED_EXEC_QUERY and risky_rule.query == SEED_RISKY_QUERY
    assert exec_rule.display_name["zh"] == "Kubernetes进入容器告警"
    assert risky_rule.display_name["zh"] == "Kubernetes进入容器后执行风险程序告警"
    assert (defs.interval, defs.start, defs.end) == ("1m", "-1m", "now")
    assert exec_rule.search == "kind: Kubernetes and kubeObject.operation.kind: PodExec"


def test_the_chinese_templates_are_the_guides_bodies():
    defs = load_definitions()
    assert one_line(defs.template(ENTER).content["zh"]) == SEED_ENTER_BODY
    assert one_line(defs.template(DANGER).content["zh"]) == SEED_DANGER_BODY
    assert defs.template(ENTER).name["zh"] == "Kubernetes进入容器告警"
    for t in defs.templates:
        assert t.title["zh"] == "Kubernetes容器内部操作审计告警"
        assert "Kubernetes" in t.title["en"]
        # Every robot gets the guide's body in Chinese; the English digests show each of its fields.
        assert t.compact["zh"] == t.content["zh"]
        assert fields(t.content["zh"]) <= fields(t.content["en"]) and fields(t.content["zh"]) <= fields(t.compact["en"])
        assert "alert.fire_results[:10]" in t.content["en"] and "alert.fire_results[:3]" in t.compact["en"]


def test_templates_read_only_what_their_rules_select():
    defs = load_definitions()
    for rule in defs.rules:
        t = defs.template(rule.template_id)
        assert fields(t.content["en"]) | fields(t.sms["zh"]) <= selected(rule.query)
        assert fields(t.voice["en"]) | fields(t.message_center["zh"]) <= selected(rule.query)
    assert "traceId" in selected(defs.rules[0].query) and "process.cmdline" in selected(defs.rules[1].query)


def test_every_channel_key_of_a_template_carries_the_body():
    t = load_definitions().template(ENTER)
    value = template(t, "zh").value
    assert set(value["templates"]) == {"dingtalk", "wechat", "lark", "slack", "webhook", "email", "sms", "voice",
                                       "message_center"}
    for key in ("dingtalk", "wechat", "lark", "slack"):
        assert value["templates"][key] == {"locale": "zh-CN", "title": t.title["zh"], "content": t.content["zh"]}
    assert json.loads(value["templates"]["webhook"]["content"]) == {"title": t.title["zh"], "text": t.content["zh"]}
    assert value["templates"]["email"] == {"locale": "zh-CN", "subject": t.title["zh"], "content": t.content["zh"]}
    assert value["templates"]["sms"] == {"locale": "zh-CN", "content": t.sms["zh"]}
    assert value["templates"]["voice"] == {"locale": "zh-CN", "content": t.voice["zh"]}
    assert value["templates"]["message_center"] == {"locale": "zh-CN", "title": t.title["zh"],
                                                    "content": t.message_center["zh"]}
    english = template(t, "en").value["templates"]
    assert english["dingtalk"]["locale"] == "en-US" and english["dingtalk"]["content"] == t.content["en"]
    # The robots with small size limits get the compact digest.
    assert english["wechat"]["content"] == english["slack"]["content"] == t.compact["en"]
    assert english["lark"]["content"] == t.content["en"]


def _row(i, **values):
    return {"time": f"2026-01-02T03:04:{i:02d}Z", "k8s.user.aliuid": "", "k8s.user.username": f"user{i}",
            "k8s.pod.namespace": "shop", "k8s.pod.name": f"web-{i}", "traceId": f"trace{i}",
            "kubeobject.operation.podexecoptions.container": "app",
            "kubeobject.operation.podexecoptions.commandstr": "bash", **values}


def test_the_english_digest_lists_the_first_results_and_the_count():
    t = load_definitions().template(ENTER)
    rows = [_row(i) for i in range(12)]
    text = render(t.content["en"], {"alert_name": "R"}, rows[0], 12, rows)
    assert "Operations: 12, the first 10 below (Details lists them all):\n" in text
    assert "1. 2026-01-02T03:04:00Z: user0 in shop/web-0, container app, command bash (traceId trace0)\n" in text
    assert "10. 2026-01-02T03:04:09Z: user9" in text and "user10" not in text
    assert "{%" not in text and "{{" not in text and text.startswith("- Alert rule: R\n")
    compact = render(t.compact["en"], {}, rows[0], 12, rows)
    assert "the first 3 below" in compact and "3. " in compact and "4. " not in compact


def test_render_falls_back_to_the_username_without_an_aliuid():
    body = load_definitions().template(ENTER).content["en"]
    with_uid = render(body, {"alert_name": "R"}, _row(0, **{"k8s.user.aliuid": "2000"}), 3)
    without = render(body, {"alert_name": "R"}, _row(0))
    assert ": 2000 in shop/web-0" in with_uid and "user0" not in with_uid
    assert ": user0 in shop/web-0" in without and "Operations: 1:" in without and "Operations: 3:" in with_uid
    zh = render(load_definitions().template(ENTER).content["zh"], {}, _row(0, **{"k8s.user.aliuid": "2000"}))
    assert "- 操作账号:2000\n- 命名空间:shop" in zh


def test_voice_and_notification_center_texts_are_plain_and_voice_is_short():
    for t in load_definitions().templates:
        for lang in ("zh", "en"):
            row = _row(0, **{"clusterid": "c" * 32, "k8s.container.name": "app", "process.cwd": "/tmp",
                             "process.cmdline": "rm -rf /" + "x" * 5000})
            voice = render(t.voice[lang], {"alert_name": "R"}, row, 7)
            assert "\n" not in voice and "http" not in voice and len(voice) < 120, voice
            assert "R" in voice and "c" * 32 in voice and "7" in voice
            center = render(t.message_center[lang], {"alert_name": "R", "query_url": "https://q"}, row, 7)
            assert not any(mark in center for mark in ("**", "[[", "](", "\n- ")), center
            assert center.endswith("https://q") and "web-0" in center and len(center) < 1000
    zh = render(load_definitions().template(ENTER).voice["zh"], {"alert_name": "Kubernetes进入容器告警"},
                _row(0, clusterid="c1"), 2)
    assert zh == "容器内部操作审计告警:Kubernetes进入容器告警,集群 c1,操作次数 2 次,请及时查看。"


def _template_item(**changes):
    item = {"id": "t", "name": {"zh": "n", "en": "n"}, "title": {"zh": "Kubernetes a", "en": "Kubernetes b"},
            "content": {"zh": ["- x:${alert_name} {{ alert.results[0].fire_result['time'] }}"],
                        "en": ["{% for r in alert.fire_results[:3] %}- y: ${alert_name} {{ r['time'] }}", "{% endfor %}"]},
            "sms": {"zh": "${alert_name}", "en": "${alert_name}"},
            "voice": {"zh": "${alert_name}", "en": "${alert_name}"},
            "message_center": {"zh": "${alert_name}", "en": "${alert_name} ${query_url}"}}
    item.update(changes)
    return item


@pytest.mark.parametrize("changes, problem", [
    ({"title": {"zh": "Kubernetes a", "en": "no keyword"}}, "must contain 'Kubernetes'"),
    ({"content": {"zh": ["{{ alert.results[0].fire_result['pod'] }}"], "en": ["${severity}"]}}, "does not show pod"),
    ({"compact": {"en": ["${alert_name}"]}}, "the en compact does not show time"),
    ({"content": {"zh": ["${alert_nmae}"], "en": ["${alert_nmae}"]}}, r"unknown variables \$\{alert_nmae\}"),
    ({"sms": {"zh": "{% if alert.n %}x", "en": "x"}}, "unclosed block"),
    ({"name": {"zh": "n"}}, "exactly the languages"),
    ({"compact": {"fr": "x"}}, "some of the languages"),
    ({"voice": {"zh": "${alert_name}", "en": "**${alert_name}**"}}, r"read aloud: no Markdown.*'\*'"),
    ({"voice": {"zh": "${alert_name} ${query_url}", "en": "x"}}, "no Markdown, links"),
    ({"voice": {"zh": "a\nb", "en": "x"}}, "line breaks"),
    ({"voice": {"zh": "x" * 201, "en": "x"}}, "at most 200 characters"),
    ({"message_center": {"zh": "x"}}, "exactly the languages"),
])
def test_a_malformed_template_is_refused(changes, problem):
    assert parse_template(_template_item())
    with pytest.raises(DefinitionError, match=problem):
        parse_template(_template_item(**changes))


@pytest.mark.parametrize("changes, problem", [
    ({"severity": 3}, "severity"), ({"template": "missing"}, "unknown template"),
    ({"query": "kind: Command"}, "select"), ({"key": "Bad Key"}, "key"),
])
def test_a_malformed_rule_is_refused(changes, problem):
    item = {"key": "exec", "severity": 2, "template": "t", "display_name": {"zh": "a", "en": "a"},
            "description": {"zh": "d", "en": "d"}, "query": "kind: Command | select \"time\" from log"}
    assert parse_rule(item, {"t"})
    with pytest.raises(DefinitionError, match=problem):
        parse_rule({**item, **changes}, {"t"})


def test_differences_look_only_at_what_ackaudit_sets():
    desired = {"name": "r", "status": "ENABLED", "configuration": {"queryList": [{"query": "a"}], "threshold": 1}}
    current = {"name": "r", "status": "DISABLED", "createTime": 1, "extra": True,
               "configuration": {"queryList": [{"query": "a", "added": 1}], "threshold": 1, "muteUntil": 0}}
    assert differences(desired, current) == []
    current["configuration"]["queryList"][0]["query"] = "b"
    current["configuration"]["threshold"] = 2
    assert differences(desired, current) == ["configuration.queryList[0].query", "configuration.threshold"]
    current["configuration"]["queryList"].append({})
    assert "configuration.queryList" in differences(desired, current)
    assert differences(desired, {"name": "r"}) == ["configuration"]


def test_the_policy_script_fires_every_channel_with_the_rules_template():
    chans = [channels.channel("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t0ken123"),
             channels.channel("slack", "https://hooks.slack.com/services/T1/B2/abcdefgh")]
    assert policy_script(chans, ENTER).splitlines() == [
        'fire(type="webhook_integration", integration_type="dingtalk", '
        f'webhook_id="ack-container-operation-audit-alert", template_id="{ENTER}", period="any")',
        'fire(type="webhook_integration", integration_type="slack", '
        f'webhook_id="ack-container-operation-audit-alert-slack", template_id="{ENTER}", period="any")']


@pytest.mark.parametrize("kind, url, token", [
    ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef", "0123456789abcdef"),
    ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
     "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"),
    ("lark", "https://open.feishu.cn/open-apis/bot/v2/hook/2b8f1c3e-aaaa-bbbb-cccc-0123456789ab",
     "2b8f1c3e-aaaa-bbbb-cccc-0123456789ab"),
    ("slack", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
     "XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("webhook", "https://alerts.example.com/webhook/s3cr3t-path?sig=abcdef123456", "abcdef123456"),
])
def test_urls_are_checked_and_masked(kind, url, token):
    ch = channels.channel(kind, url)
    masked = channels.mask_url(url)
    assert token not in masked and "…" in masked and masked.startswith(url.split("/")[0] + "//")
    assert token in ch.secrets
    assert channels.scrub(f"failed: {url}", ch.secrets) == f"failed: {masked}"


@pytest.mark.parametrize("url", ["http://[::1", "https://[::1/robot/send?access_token=t0psecrettoken",
                                 "https://[zz]/robot/send?access_token=t0psecrettoken",
                                 "https://" + "h" * 10_000 + ".example.com/robot/send?access_token=t0psecrettoken"])
def test_a_malformed_or_huge_url_is_masked_and_refused_without_raising(url):
    masked = channels.mask_url(url)
    assert "t0psecrettoken" not in masked and len(masked) < 120
    with pytest.raises(UsageError) as refused:
        channels.channel("dingtalk", url)
    assert "t0psecrettoken" not in refused.value.message and len(refused.value.message) < 300


def test_a_robot_url_elsewhere_needs_allow_any_url_and_is_never_echoed():
    url = "http://127.0.0.1:8080/robot/send?access_token=t0psecrettoken"
    with pytest.raises(UsageError) as refused:
        channels.channel("dingtalk", url)
    assert "t0psecrettoken" not in refused.value.message and "allow-any-url" in refused.value.hint
    assert channels.channel("dingtalk", url, allow_any_url=True).url == url
    with pytest.raises(UsageError, match="access_token"):
        channels.channel("dingtalk", "https://oapi.dingtalk.com/robot/send")
    with pytest.raises(UsageError, match="starts with SEC"):
        channels.channel("dingtalk", url, "not-a-secret", allow_any_url=True)
    with pytest.raises(UsageError, match="not signed"):
        channels.channel("slack", "https://hooks.slack.com/services/T/B/XYZ", "SEC1")


def test_signatures_follow_each_services_algorithm():
    # Reference values computed from the documented algorithms (cloud-apis §5.1, §5.3).
    assert channels.dingtalk_signature("SECtest", 1700000000000) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
    assert channels.lark_signature("secret", 1700000000) == "fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA="
    url, body = channels.message(channels.channel("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=abc12345",
                                                  "SECtest"), "T", "x", now=1700000000.0)
    assert url.endswith("&timestamp=1700000000000&sign=aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D")
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "T"
    _, lark = channels.message(channels.channel("lark", "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
                                                "secret"), "T", "x", now=1700000000.0)
    assert (lark["timestamp"], lark["sign"]) == ("1700000000", channels.lark_signature("secret", 1700000000))


# The fields a user controls (names, command lines) may hold anything; names of Kubernetes objects,
# times and trace ids are ASCII of bounded length.
_FREE = ("k8s.user.aliuid", "k8s.user.username", "kubeobject.operation.podexecoptions.commandstr",
         "process.cmdline", "process.cwd")
_CONSOLE = "https://sls.console.aliyun.com/" + "q" * 470    # links SLS fills in, 500 characters each


def _hostile(filler):
    row = {"time": "2026-01-02T03:04:05.123456+08:00".ljust(40, "0"), "traceId": "f" * 64, "clusterid": "c" * 64,
           "k8s.pod.namespace": "n" * 63, "k8s.pod.name": "p" * 63, "k8s.container.name": "k" * 63,
           "kubeobject.operation.podexecoptions.container": "k" * 63}
    return {**row, **{f: filler * 2000 for f in _FREE}}


def _size(channel, title, text):
    """The message as each robot measures it (cloud-apis §5): the JSON body, the markdown content or
    the section text."""
    if channel == "dingtalk":
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": {"isAtAll": False}}
    elif channel == "lark":
        body = {"timestamp": "1700000000", "sign": "s" * 44, "msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": title}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]}}
    else:
        return len(text.encode()) if channel == "wecom" else len(text)
    return len(json.dumps(body, ensure_ascii=False).encode())


# Control characters grow six times in JSON, emoji are four bytes, quotes two.
@pytest.mark.parametrize("filler", ["\x01", "\U0001F600", '"', "a"])
def test_the_english_digests_stay_under_every_robots_limit_whatever_the_results(filler):
    variables = {"alert_name": "Kubernetes: a risky program ran in an entered container",
                 "alert_time": "2026-01-02 03:04:05", "severity": "Medium", "query_url": _CONSOLE,
                 "alert_url": _CONSOLE}
    rows = [_hostile(filler) for _ in range(100)]
    for t in load_definitions().templates:
        parts = template(t, "en").value["templates"]
        for kind in channels.CHANNEL_TYPES.values():
            if kind.limit is None:
                continue
            part = parts[kind.template_key]
            text = render(part["content"], variables, rows[0], 100, rows)
            assert _size(kind.name, part["title"], text) <= kind.limit[0], (t.id, kind.name)
            assert text.count("\n1. ") == 1 and ("\n10. " in text) == (not kind.compact)
