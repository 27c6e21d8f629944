"""The SLS objects `alerts setup` maintains, built from the bundled definitions.

For one cluster and its channels:
- one webhook-integration record per channel (account level; cloud-apis §4.5);
- the two content templates of the guide (account level, shared by every cluster);
- one action policy per rule, `ackaudit-<cluster id>-<rule>`, firing every channel with that rule's
  template. One policy per rule, rather than one policy branching on the alert, keeps the policy
  language down to `fire(...)` calls, mirrors the console's "simple mode" (a rule-specific policy),
  and lets a rule be re-routed alone;
- for email, SMS and voice calls, the users and the cluster's user groups of `alert_people.py`
  (the Notification Center needs neither: the policies name it alone);
- the two alert rules (`/jobs`, in the cluster's project), `ackaudit-<cluster id>-<rule>`, with the
  built-in alert policy `sls.builtin.dynamic`, which hands each alert to the action policy the rule
  names.

What ackaudit made carries its mark where the official model has a field for one: an alert rule
the tag `ackaudit` (`configuration.tags`), an action policy the label `managed_by: ackaudit`
(`labels`). Webhook integrations, content templates, users and user groups have no such field:
they are ackaudit's when an action policy of ackaudit's uses them (see `alerting.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ackaudit.services import alert_people
from ackaudit.services.alert_channels import CHANNEL_TYPES, Channel
from ackaudit.services.alert_custom import Customisation, annotation, compile_query
from ackaudit.services.alert_definitions import RuleDefinition, TemplateDefinition
from ackaudit.services.alert_people import Recipient

# The webhook-integration resource has two names in the primary sources (cloud-apis §4.5): the
# documented one is preferred, the SDKs' one used when only it exists.
WEBHOOK_RESOURCES = ("sls.alert.action_webhook", "sls.alert.webhook_application")
TEMPLATE_RESOURCE = "sls.alert.content_template"
POLICY_RESOURCE = "sls.alert.action_policy"
RULE_PREFIX = "ackaudit-"
DYNAMIC_ALERT_POLICY = "sls.builtin.dynamic"
LOCALES = {"zh": "zh-CN", "en": "en-US"}
WEBHOOK_NAME = "Kubernetes容器内部操作审计告警"
TEMPLATE_CHANNEL_KEYS = ("dingtalk", "wechat", "lark", "slack")
RULE_TAG = "ackaudit"                      # in an alert rule's configuration.tags
POLICY_LABEL = ("managed_by", "ackaudit")  # in an action policy's labels

# Also the order of creation: what a policy names exists before the policy, the policy before the rule.
KINDS = ("webhook", "template", "user", "user_group", "action_policy", "alert_rule")


@dataclass(frozen=True)
class Desired:
    kind: str              # one of KINDS
    id: str                # record id, or the rule's name
    tag: str | None        # the record's tag (its display name); None for alert rules
    value: dict[str, Any]  # the record value, or the rule's detail


def rule_name(cluster_id: str, rule: RuleDefinition) -> str:
    return f"{RULE_PREFIX}{cluster_id}-{rule.key}"


def webhook(ch: Channel) -> Desired:
    name = WEBHOOK_NAME if ch.type.name == "dingtalk" else f"{WEBHOOK_NAME} ({ch.type.label})"
    value: dict[str, Any] = {"id": ch.type.webhook_id, "name": name, "type": ch.type.sls_type, "url": ch.url,
                             "method": "POST", "headers": []}
    if ch.type.sls_type == "custom":
        value["headers"] = [{"key": "Content-Type", "value": "application/json"}]
    if ch.secret:
        value["secret"] = ch.secret
    return Desired("webhook", ch.type.webhook_id, name, value)


def template(t: TemplateDefinition, lang: str) -> Desired:
    """The content template: a part per channel. The robots with small size limits (WeCom, Slack)
    get the compact body, email the full one with the title as its subject, SMS its one line, a
    voice call its short sentence, the Notification Center its plain text under the title."""
    locale, title = LOCALES[lang], t.title[lang]
    compact = {c.template_key: c.compact for c in CHANNEL_TYPES.values()}
    channels: dict[str, Any] = {key: {"locale": locale, "title": title, "content": t.body(lang, compact[key])}
                                for key in TEMPLATE_CHANNEL_KEYS}
    # A generic webhook receives the rendered content as its JSON body: the same title and
    # Markdown text as the robots get, as a JSON document.
    channels["webhook"] = {"locale": locale, "send_type": "single", "limit": 0,
                           "content": json.dumps({"title": title, "text": t.content[lang]}, ensure_ascii=False)}
    channels["email"] = {"locale": locale, "subject": title, "content": t.content[lang]}
    channels["sms"] = {"locale": locale, "content": t.sms[lang]}
    channels["voice"] = {"locale": locale, "content": t.voice[lang]}
    channels["message_center"] = {"locale": locale, "title": title, "content": t.message_center[lang]}
    value = {"template_id": t.id, "template_name": t.name[lang], "is_default": False, "templates": channels}
    return Desired("template", t.id, t.name[lang], value)


def users(recipients: list[Recipient]) -> list[Desired]:
    return [Desired("user", r.user_id, r.shown, alert_people.user_value(r)) for r in recipients
            if r.kind in alert_people.KINDS]


def user_groups(cluster_id: str, recipients: list[Recipient]) -> list[Desired]:
    groups = []
    for kind in alert_people.KINDS:
        members = [r for r in recipients if r.kind == kind]
        if members:
            value = alert_people.group_value(cluster_id, kind, members)
            groups.append(Desired("user_group", value["user_group_id"], value["user_group_name"], value))
    return groups


def policy_script(channels: list[Channel], template_id: str, cluster_id: str = "",
                  recipients: list[Recipient] | None = None) -> str:
    """The action-policy DSL, written in this one place.

    UNCONFIRMED (cloud-apis §4.5, §9 item 15): no official reference documents the
    `webhook_integration` form; it is the form seen in SLS's own tooling:
    `fire(type="webhook_integration", integration_type=<type>, webhook_id=<record id>,
    template_id=<template id>, period="any")`, one call per channel. `period="any"` is the
    guide's "send at any time"; no @-mention arguments, as the guide says "no reminder". Email,
    SMS and voice calls go to the cluster's user groups, then the Notification Center
    (`alert_people.policy_fires`).
    """
    calls = [f'fire(type="webhook_integration", integration_type="{ch.type.sls_type}", '
             f'webhook_id="{ch.type.webhook_id}", template_id="{template_id}", period="any")'
             for ch in channels]
    kinds = sorted({r.kind for r in recipients or []})
    return "\n".join(calls + alert_people.policy_fires(cluster_id, kinds, template_id))


def action_policy(cluster_id: str, rule: RuleDefinition, channels: list[Channel], lang: str,
                  recipients: list[Recipient] | None = None) -> Desired:
    policy_id = rule_name(cluster_id, rule)
    name = f"{rule.display_name[lang]} ({cluster_id})"
    script = policy_script(channels, rule.template_id, cluster_id, recipients)
    value = {"action_policy_id": policy_id, "action_policy_name": name, "is_default": False,
             "labels": dict([POLICY_LABEL]),
             # Escalation is off; an empty secondary script may be refused (ActionPolicyEmpty), so
             # it repeats the primary one.
             "primary_policy_script": script, "secondary_policy_script": script,
             "escalation_start_enabled": False, "escalation_start_timeout": "10s",
             "escalation_inprogress_enabled": False, "escalation_inprogress_timeout": "10s",
             "escalation_enabled": False, "escalation_timeout": "4h0m0s"}
    return Desired("action_policy", policy_id, name, value)


def alert_rule(cluster_id: str, project: str, logstore: str, region: str, rule: RuleDefinition, lang: str,
               schedule: tuple[str, str, str], custom: Customisation | None = None) -> Desired:
    interval, start, end = schedule
    name = rule_name(cluster_id, rule)
    custom = custom or Customisation()
    detail = {
        "name": name, "displayName": rule.display_name[lang], "description": rule.description[lang],
        "type": "Alert", "status": "ENABLED",
        "schedule": {"type": "FixedRate", "interval": interval, "runImmediately": False, "delay": 0},
        "configuration": {
            "version": "2.0", "type": "default", "dashboard": "internal-alert-analysis",
            "queryList": [{"storeType": "log", "project": project, "store": logstore, "region": region,
                           "roleArn": "", "query": compile_query(rule.query, rule.key, custom), "timeSpanType": "Relative", "start": start,
                           "end": end, "powerSqlMode": "auto", "chartTitle": "", "dashboardId": ""}],
            "groupConfiguration": {"type": "no_group", "fields": []},
            "joinConfigurations": [],
            # An empty condition fires whenever the query returns rows: the guide's "when there is data".
            "severityConfigurations": [{"severity": rule.severity,
                                        "evalCondition": {"condition": "", "countCondition": ""}}],
            "labels": [{"key": "cluster_id", "value": cluster_id}],
            "annotations": [{"key": "title", "value": rule.display_name[lang]},
                            {"key": "desc", "value": rule.description[lang]},
                            {"key": "__drill_down_query__", "value": rule.search}, *annotation(custom)],
            "autoAnnotation": True, "sendResolved": False, "threshold": 1,
            "noDataFire": False, "noDataSeverity": 6,
            "policyConfiguration": {"repeatInterval": interval,
                                    "alertPolicyId": DYNAMIC_ALERT_POLICY, "actionPolicyId": name},
            "templateConfiguration": {},
            "sinkAlerthub": {"enabled": True}, "sinkCms": {"enabled": False},
            "sinkEventStore": {"enabled": False},
            "tags": [RULE_TAG],
        },
    }
    return Desired("alert_rule", name, None, detail)


# Keys of a rule that are its state, not its definition: `setup` leaves a rule someone disabled
# disabled, and the service stamps the times. Only fields of the official Alert model are sent
# (`status`, not the deprecated `state`; PolicyConfiguration without `useDefault`), so a rule the
# service stores is never seen as drift.
RULE_STATE_KEYS = ("status", "createTime", "lastModifiedTime")


def differences(desired: Any, current: Any, path: str = "") -> list[str]:
    """The paths where `current` differs from `desired`, looking only at what `desired` sets
    (a service adding defaults or bookkeeping fields is not a difference)."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return [path or "."]
        found: list[str] = []
        for key, value in desired.items():
            if path == "" and key in RULE_STATE_KEYS:
                continue
            sub = f"{path}.{key}" if path else key
            found += differences(value, current[key], sub) if key in current else [sub]
        return found
    if isinstance(desired, list):
        if not isinstance(current, list) or len(current) != len(desired):
            return [path]
        return [p for i, (d, c) in enumerate(zip(desired, current, strict=True)) for p in differences(d, c, f"{path}[{i}]")]
    return [] if desired == current else [path]
