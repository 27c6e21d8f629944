"""The sandbox's SLS alert engine: enabled alert rules (`/jobs`) run on their schedule.

One evaluation of a rule (cloud-apis §4.4):
1. each query of `queryList` runs in the embedded engine over its window (`start`/`end`, e.g. `-1m`
   to `now`);
2. the trigger condition applies: the first `severityConfigurations` entry whose `evalCondition`
   holds gives the severity; an empty condition means "when there is data"; `countCondition` may
   be `__count__ <op> N`; `threshold` consecutive triggers are needed before it fires;
3. a firing alert goes through its alert policy: `sls.builtin.dynamic` hands it to the action
   policy the rule names (`policyConfiguration.actionPolicyId`), whose `fire(...)` calls pick the
   channels; each webhook integration gets its content template rendered with the real results
   (`engine/alert_templates.py`) and receives the message in its service's envelope, signed when the
   integration has a secret, through the sandbox's own robots (`webhooks.py`); the channels SLS
   sends itself are recorded in `state.alert_notifications` (`GET /_sandbox/alerts/notifications`)
   with the text rendered from their template part: SMS, voice calls and email to the users named
   and the members of the groups named, the Notification Center (`message_center`) to the
   account's own contacts;
4. the evaluation is written to the account's alert history, logstore `internal-alert-history` of
   project `sls-alert-<uid>-<region>`, with the documented fields (AlertName, Fired, NotifyStatus,
   Reason, Results, Status...; https://www.alibabacloud.com/help/en/sls/fields-in-alert-rule-evaluation-logs).
   On the real service NotifyStatus of a new-version rule says whether the alert reached the alert
   management system; here it says whether the notifications were delivered.

Schedule: `FixedRate` rules run every `interval`, first one `interval` after they were created (or
at once with `runImmediately`). The setting `alert_clock_speed` divides every interval (60: a
1-minute rule runs every second) without changing the query windows, which are real time; a
window never reaches back before the previous one's end, so an accelerated rule never reports an
event twice. `alert_ingest_delay` (seconds, added to the rule's `schedule.delay`) leaves time for
rows still being shipped. `POST /_sandbox/alerts/evaluate` runs rules at once; with the setting
`alert_schedule` false, only that (and `tick`) runs them.

Action policies are checked when they are written (`script_problem`), as the service's console
refuses a policy it cannot run: every `fire(...)` call must parse, name a channel type the sandbox
knows (`FIRE_TYPES`) and carry that type's required arguments. The real service knows more types
(function compute, EventBridge...): the sandbox refuses them as unknown.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ackaudit.engine.alert_templates import TemplateError, render
from ackaudit.sandbox import webhooks
from ackaudit.sandbox.http import Request
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID, SandboxState

log = logging.getLogger("ackaudit.sandbox.alerts")

HISTORY_LOGSTORE = "internal-alert-history"
DYNAMIC_POLICY = "sls.builtin.dynamic"
WEBHOOK_RESOURCES = ("sls.alert.action_webhook", "sls.alert.webhook_application")
MAX_RAW_RESULTS = 100          # SLS checks at most 100 results of a query
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SEVERITY_NAMES = {"zh": {2: "报告", 4: "低", 6: "中", 8: "高", 10: "严重"},
                   "en": {2: "Report", 4: "Low", 6: "Medium", 8: "High", 10: "Critical"}}
_TEMPLATE_KEYS = {"dingtalk": "dingtalk", "wechat": "wechat", "lark": "lark", "slack": "slack", "custom": "webhook"}
_ROBOT_KINDS = {"dingtalk": "dingtalk", "wechat": "wecom", "lark": "lark", "slack": "slack", "custom": "webhook"}
_FIRE = re.compile(r"fire\((.*?)\)\s*(?:\n|$)", re.S)
_ARG = re.compile(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\])')
_COUNT_CONDITION = re.compile(r"^__count__\s*(>=|<=|==|!=|>|<)\s*(\d+)$")
# The channel types of `fire(type=...)` the sandbox runs, and the arguments each needs. Email, SMS
# and voice calls also need someone to send to: users, groups or on-call groups.
FIRE_TYPES = {"webhook_integration": ("integration_type", "webhook_id", "template_id"),
              "email": ("template_id",), "sms": ("template_id",), "voice": ("template_id",),
              "message_center": ("template_id",)}
_TO_PEOPLE = ("email", "sms", "voice")
_RECEIVERS = ("users", "groups", "oncall_groups")
PERIODS = ("any", "workday", "non_workday", "worktime", "non_worktime")


def history_project(region: str) -> str:
    return f"sls-alert-{SANDBOX_ACCOUNT_ID}-{region}"


def seconds(text: Any) -> int | None:
    """`1m` / `60s` / `-1m` as seconds; `now` is 0; None when unreadable."""
    value = str(text or "").strip()
    if value == "now":
        return 0
    match = re.fullmatch(r"(-?)(\d+)([smhd])", value)
    if match is None:
        return None
    return int(match[2]) * _UNITS[match[3]] * (-1 if match[1] else 1)


# -- scheduling -----------------------------------------------------------------------------------

def _enabled_rules(state: SandboxState) -> list[tuple[str, dict[str, Any]]]:
    return [(name, job) for name, project in sorted(state.projects.items())
            for _, job in sorted((project.get("jobs") or {}).items())
            if job.get("type") == "Alert" and str(job.get("status", "ENABLED")).upper() == "ENABLED"]


def _interval(state: SandboxState, job: dict[str, Any]) -> float | None:
    schedule = job.get("schedule") or {}
    if schedule.get("type") != "FixedRate":
        return None          # Cron, Hourly...: evaluated on demand only
    interval = seconds(schedule.get("interval"))
    if not interval or interval <= 0:
        return None
    speed = float(state.settings.get("alert_clock_speed", 1.0) or 1.0)
    return interval / max(speed, 1e-6)


def _run_state(state: SandboxState, project: str, job: dict[str, Any]) -> dict[str, Any]:
    key = f"{project}/{job['name']}"
    runs = state.alert_runs
    created = float(job.get("createTime") or time.time())
    if key not in runs or runs[key].get("created") != created:
        runs[key] = {"created": created, "last_to": int(created), "consecutive": 0, "next_run": None}
    return runs[key]


def tick(state: SandboxState, now: float | None = None) -> list[dict[str, Any]]:
    """Evaluate every enabled rule that is due; the history rows written."""
    now = time.time() if now is None else now
    written = []
    with state.lock:
        due = []
        for project, job in _enabled_rules(state):
            interval = _interval(state, job)
            if interval is None:
                continue
            run = _run_state(state, project, job)
            if run["next_run"] is None:
                immediate = (job.get("schedule") or {}).get("runImmediately")
                run["next_run"] = run["created"] + (0 if immediate else interval)
            if now >= run["next_run"]:
                run["next_run"] = max(run["next_run"] + interval, now - interval)
                due.append((project, job))
    for project, job in due:
        row = evaluate(state, project, job, now)
        if row is not None:
            written.append(row)
    if due:
        state.save()
    return written


def evaluate_now(state: SandboxState, project: str | None = None, name: str | None = None,
                 now: float | None = None) -> list[dict[str, Any]]:
    """Run the matching enabled rules at once, whatever their schedule."""
    now = time.time() if now is None else now
    with state.lock:
        chosen = [(p, j) for p, j in _enabled_rules(state) if project in (None, p) and name in (None, j["name"])]
    rows = [row for p, j in chosen if (row := evaluate(state, p, j, now)) is not None]
    state.save()
    return rows


# -- one evaluation -------------------------------------------------------------------------------

def _window(state: SandboxState, project: str, job: dict[str, Any], query: dict[str, Any],
            now: float) -> tuple[int, int]:
    delay = int((job.get("schedule") or {}).get("delay") or 0) + int(state.settings.get("alert_ingest_delay", 3))
    end = int(now) - delay + (seconds(query.get("end")) or 0)
    span = -(seconds(query.get("start")) or -60)
    run = _run_state(state, project, job)
    return max(end - span, run["last_to"]), end


def _query(state: SandboxState, query: dict[str, Any], start: int, end: int) -> list[dict[str, str]]:
    from ackaudit.engine.errors import QueryError

    project, store = query.get("project"), query.get("store")
    if store not in (state.projects.get(project) or {}).get("logstores", {}):
        raise RuntimeError(f"logstore {project}/{store} does not exist")
    try:
        result = state.events.query(project, store, query.get("query") or "*", start, end, line=MAX_RAW_RESULTS)
    except QueryError as e:
        raise RuntimeError(f"query error: {getattr(e, 'message', e)}") from None
    return [{k: v for k, v in row.items() if k not in ("__source__", "__topic__")} for row in result.rows]


def _condition_holds(condition: dict[str, Any], count: int) -> bool | None:
    """Whether an evalCondition holds for `count` rows (None: a condition the sandbox cannot read)."""
    expression = str(condition.get("condition") or "").strip()
    count_condition = str(condition.get("countCondition") or "").strip()
    if expression:
        return None
    if not count_condition:
        return count > 0
    match = _COUNT_CONDITION.match(count_condition)
    if match is None:
        return None
    limit = int(match[2])
    return {">": count > limit, ">=": count >= limit, "<": count < limit, "<=": count <= limit,
            "==": count == limit, "!=": count != limit}[match[1]]


def evaluate(state: SandboxState, project: str, job: dict[str, Any], now: float) -> dict[str, Any] | None:
    """Evaluate one rule now; the history row written (None when its window is still empty)."""
    config = job.get("configuration") or {}
    queries = config.get("queryList") or []
    if not queries:
        return None
    with state.lock:
        start, end = _window(state, project, job, queries[0], now)
    if start >= end:
        return None
    results, error = [], None
    for query in queries:
        try:
            rows = _query(state, query, start, end)
        except RuntimeError as e:
            rows, error = [], str(e)
        results.append(_result(query, start, end, rows))
    rows = results[0]["RawResults"]
    severity, fired = None, False
    if error is None:
        for entry in config.get("severityConfigurations") or []:
            holds = _condition_holds(entry.get("evalCondition") or {}, len(rows))
            if holds is None:
                error = "the sandbox evaluates only empty conditions and `__count__ <op> N` count conditions"
                break
            if holds:
                severity, fired = int(entry.get("severity", 6)), True
                break
    with state.lock:
        run = _run_state(state, project, job)
        run["last_to"] = end
        run["consecutive"] = run["consecutive"] + 1 if fired else 0
        reached = run["consecutive"] >= int(config.get("threshold") or 1)
    status = "error" if error else ("firing" if fired and reached else "pending" if fired else "inactive")
    notify_status, reason = "NotNotified", error or ""
    if status == "firing":
        alert = _alert(state, project, job, severity, results, start, end)
        notify_status, reason = _notify(state, job, alert)
    row = _history_row(state, project, job, now, status, notify_status, reason, results, severity)
    _append_history(state, project, row)
    return row


def _result(query: dict[str, Any], start: int, end: int, rows: list[dict[str, str]]) -> dict[str, Any]:
    return {"Query": query.get("query", ""), "Project": query.get("project", ""), "Store": query.get("store", ""),
            "Region": query.get("region", ""), "StartTime": _date(start), "EndTime": _date(end),
            "StartTimeTs": start, "EndTimeTs": end, "RawResultCount": len(rows), "RawResults": rows,
            "FireResult": rows[0] if rows else None, "Truncated": len(rows) >= MAX_RAW_RESULTS}


def _date(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _alert(state: SandboxState, project: str, job: dict[str, Any], severity: int | None,
           results: list[dict[str, Any]], start: int, end: int) -> dict[str, Any]:
    config = job.get("configuration") or {}
    rows = results[0]["RawResults"]
    console = f"https://sls.console.aliyun.com/lognext/project/{project}"
    region = (state.projects.get(project) or {}).get("region", "")
    return {
        "alert_name": job.get("displayName") or job["name"], "alert_id": job["name"],
        "alert_instance_id": uuid.uuid4().hex, "project": project, "region": region,
        "aliuid": SANDBOX_ACCOUNT_ID, "severity": severity, "status": "firing",
        "fire_time": end, "alert_time": end, "fire_results": rows, "fire_results_count": len(rows),
        "results": [{"fire_result": r["FireResult"] or {}, "raw_results": r["RawResults"],
                     "raw_result_count": r["RawResultCount"], "query": r["Query"], "project": r["Project"],
                     "store": r["Store"], "start_time": start, "end_time": end, "truncated": r["Truncated"]}
                    for r in results],
        "labels": {i.get("key"): i.get("value") for i in config.get("labels") or []},
        "annotations": {i.get("key"): i.get("value") for i in config.get("annotations") or []},
        "query_url": f"{console}/logsearch/{results[0]['Store']}",
        "alert_url": f"{console}/alert/{job['name']}",
    }


# -- routing and delivery -------------------------------------------------------------------------

def _record_value(state: SandboxState, resource: str, record_id: str) -> dict[str, Any] | None:
    record = ((state.resources.get(resource) or {}).get("records") or {}).get(record_id)
    if record is None:
        return None
    try:
        value = json.loads(record.get("value") or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def fire_calls(script: str) -> list[dict[str, Any]]:
    """The `fire(...)` calls of an action-policy script, their arguments decoded."""
    calls = []
    for match in _FIRE.finditer(script or ""):
        args: dict[str, Any] = {}
        for key, raw in _ARG.findall(match[1]):
            args[key] = json.loads(raw) if raw.startswith(("\"", "[")) else raw
        calls.append(args)
    return calls


def script_problem(script: Any) -> str | None:
    """Why an action-policy script cannot run (None when it can): a `fire(...)` call that does not
    parse, an unknown channel type, a missing argument, an unknown period."""
    if not isinstance(script, str):
        return "must be a string"
    try:
        calls = fire_calls(script)
    except ValueError:
        return "a fire(...) argument is not a string or a list of strings"
    if len(re.findall(r"\bfire\(", script)) != len(calls):
        return "a fire(...) call does not parse: fire(name=\"value\", ...), one call per line"
    for call in calls:
        kind = call.get("type")
        if kind not in FIRE_TYPES:
            return f"fire(type={kind!r}) is not a channel type ({', '.join(FIRE_TYPES)})"
        missing = [a for a in FIRE_TYPES[kind] if not isinstance(call.get(a), str) or not call[a]]
        if missing:
            return f'fire(type="{kind}") needs {", ".join(missing)}'
        lists = [a for a in _RECEIVERS if a in call]
        if any(not isinstance(call[a], list) or not all(isinstance(v, str) and v for v in call[a]) for a in lists):
            return f'fire(type="{kind}"): {", ".join(lists)} must be lists of ids'
        if kind in _TO_PEOPLE and not any(call.get(a) for a in _RECEIVERS):
            return f'fire(type="{kind}") needs users, groups or oncall_groups to send to'
        if call.get("period", "any") not in PERIODS:
            return f'fire(type="{kind}"): period must be one of {", ".join(PERIODS)}'
    return None


def _notify(state: SandboxState, job: dict[str, Any], alert: dict[str, Any]) -> tuple[str, str]:
    policy_config = (job.get("configuration") or {}).get("policyConfiguration") or {}
    if policy_config.get("alertPolicyId", DYNAMIC_POLICY) != DYNAMIC_POLICY:
        return "Failed", f"the sandbox routes alerts through {DYNAMIC_POLICY} only"
    policy_id = policy_config.get("actionPolicyId") or ""
    with state.lock:
        policy = _record_value(state, "sls.alert.action_policy", policy_id)
    if policy is None:
        return "Failed", f"action policy {policy_id!r} does not exist"
    script = policy.get("primary_policy_script", "")
    problem = script_problem(script)
    if problem is not None:
        return "Failed", f"action policy {policy_id!r}: {problem}"
    calls = fire_calls(script)
    if not calls:
        return "Failed", f"action policy {policy_id!r} fires no channel"
    outcomes = [_fire(state, call, alert) for call in calls]
    failures = [reason for ok, reason in outcomes if not ok]
    if not failures:
        return "Success", ""
    return ("Failed" if len(failures) == len(outcomes) else "PartialSuccess"), "; ".join(failures)


def _template(state: SandboxState, template_id: str) -> dict[str, Any] | None:
    with state.lock:
        return _record_value(state, "sls.alert.content_template", template_id)


def _render_part(part: dict[str, Any], alert: dict[str, Any]) -> tuple[str, str]:
    lang = "zh" if str(part.get("locale", "zh-CN")).startswith("zh") else "en"
    names = _SEVERITY_NAMES[lang]
    scope = {"alert": alert, "__severity_names__": names}
    old = {"alert_name": str(alert["alert_name"]), "alert_time": _date(alert["alert_time"]),
           "severity": names.get(alert["severity"] or 0, ""), "query_url": alert["query_url"],
           "alert_url": alert["alert_url"], "project": alert["project"]}
    return (render(part.get("title") or part.get("subject") or "", scope, old),
            render(part.get("content") or "", scope, old))


def _fire(state: SandboxState, call: dict[str, Any], alert: dict[str, Any]) -> tuple[bool, str]:
    kind = call.get("type")
    template = _template(state, call.get("template_id", ""))
    if template is None:
        return False, f"content template {call.get('template_id')!r} does not exist"
    if kind == "webhook_integration":
        return _fire_webhook(state, call, template, alert)
    if kind in ("sms", "voice", "email", "message_center"):
        return _fire_people(state, call, template, alert)
    return False, f"channel type {kind!r} is not emulated"


def _fire_webhook(state: SandboxState, call: dict[str, Any], template: dict[str, Any],
                  alert: dict[str, Any]) -> tuple[bool, str]:
    webhook_id = call.get("webhook_id", "")
    with state.lock:
        hook = next((v for r in WEBHOOK_RESOURCES if (v := _record_value(state, r, webhook_id))), None)
    if hook is None:
        return False, f"webhook integration {webhook_id!r} does not exist"
    sls_type = hook.get("type", "")
    part = (template.get("templates") or {}).get(_TEMPLATE_KEYS.get(sls_type, "webhook"))
    if not isinstance(part, dict):
        return False, f"template {template.get('template_id')!r} has no {sls_type} content"
    try:
        title, text = _render_part(part, alert)
    except TemplateError as e:
        return False, f"template {template.get('template_id')!r}: {e}"
    url, body, headers = _envelope(hook, title, text)
    ok, answer = _deliver(state, url, body, headers)
    return ok, "" if ok else f"{sls_type} {webhook_id}: {answer}"


def _envelope(hook: dict[str, Any], title: str, text: str) -> tuple[str, Any, dict[str, str]]:
    """(URL, JSON body, headers) of the message SLS posts to this kind of integration."""
    import base64
    import hashlib
    import hmac
    from urllib.parse import quote_plus

    sls_type, url, secret = hook.get("type"), str(hook.get("url", "")), hook.get("secret")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    now = time.time()
    if sls_type == "dingtalk":
        if secret:
            stamp = int(now * 1000)
            sign = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest())
            url = f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={quote_plus(sign.decode())}"
        return url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": {"isAtAll": False}}, headers
    if sls_type == "wechat":
        return url, {"msgtype": "markdown", "markdown": {"content": text}}, headers
    if sls_type == "lark":
        body: dict[str, Any] = {"msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": title}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]}}
        if secret:
            stamp = int(now)
            key = f"{stamp}\n{secret}".encode()
            body = {"timestamp": str(stamp),
                    "sign": base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode(), **body}
        return url, body, headers
    if sls_type == "slack":
        return url, {"text": title, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}, headers
    for item in hook.get("headers") or []:
        if isinstance(item, dict) and item.get("key"):
            headers[str(item["key"])] = str(item.get("value", ""))
    try:
        return url, json.loads(text), headers
    except ValueError:
        return url, {"content": text}, headers


def _deliver(state: SandboxState, url: str, body: Any, headers: dict[str, str]) -> tuple[bool, str]:
    """Post to the sandbox's own robot at the URL's path and query (the sandbox never calls out)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not webhooks.serves(parts.path):
        return False, "the sandbox delivers only to its emulated robots (DingTalk, WeCom, Lark, Slack, /webhook/...)"
    req = Request("POST", parts.path, parse_qsl(parts.query, keep_blank_values=True),
                  {k.lower(): v for k, v in headers.items()}, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                  (parts.hostname or "").lower())
    resp = webhooks.handle(state, req)
    return webhooks.answer_of(webhooks.kind_of(parts.path), resp)


def _fire_people(state: SandboxState, call: dict[str, Any], template: dict[str, Any],
                 alert: dict[str, Any]) -> tuple[bool, str]:
    """SMS, voice calls and email go to SLS users and user groups; the Notification Center to the
    account's own message-center contacts."""
    kind = call["type"]
    if kind == "message_center":
        return _record_sent(state, template, alert, kind, [f"account {SANDBOX_ACCOUNT_ID}"])
    with state.lock:
        users = {u: _record_value(state, "sls.common.user", u) for u in call.get("users") or []}
        for group_id in call.get("groups") or []:
            group = _record_value(state, "sls.common.user_group", group_id)
            if group is None:
                return False, f"{kind}: user group {group_id!r} does not exist"
            if group.get("enabled", True) is False:
                continue
            users.update({u: _record_value(state, "sls.common.user", u) for u in group.get("members") or []})
    missing = sorted(u for u, v in users.items() if v is None)
    if missing:
        return False, f"{kind}: users {', '.join(missing)} do not exist"
    address = {"email": "email", "sms": "phone", "voice": "phone"}[kind]
    recipients = []
    for _, user in sorted(users.items()):
        value = user.get(address)
        if user.get("enabled", True) is False or (kind in ("sms", "voice") and not user.get(f"{kind}_enabled", True)):
            continue
        if kind in ("sms", "voice") and value:
            value = f"+{user.get('country_code') or '86'} {value}"
        recipients += value if isinstance(value, list) else [value] if value else []
    if not recipients:
        return False, f"{kind}: no recipient has an address for it"
    return _record_sent(state, template, alert, kind, recipients)


def _record_sent(state: SandboxState, template: dict[str, Any], alert: dict[str, Any], kind: str,
                 recipients: list[str]) -> tuple[bool, str]:
    """Record what SLS would have sent on this channel: its template part, rendered."""
    part = (template.get("templates") or {}).get(kind)
    if not isinstance(part, dict) or not part.get("content"):
        return False, f"template {template.get('template_id')!r} has no {kind} content"
    try:
        title, text = _render_part(part, alert)
    except TemplateError as e:
        return False, f"template {template.get('template_id')!r}: {e}"
    with state.lock:
        state.alert_notifications.append({"time": time.time(), "type": kind, "recipients": recipients,
                                          "subject": title, "content": text, "alert": alert["alert_id"]})
        del state.alert_notifications[:-webhooks.MESSAGE_LOG_SIZE]
    return True, ""


# -- history --------------------------------------------------------------------------------------

_HISTORY_KEYS = ("AlertName", "AlertDisplayName", "AlertID", "AlertStatus", "Fired", "NotifyStatus", "Status",
                 "Severity", "Project", "Reason", "Condition", "Dashboard", "FireCount")


def _history_row(state: SandboxState, project: str, job: dict[str, Any], now: float, status: str,
                 notify_status: str, reason: str, results: list[dict[str, Any]],
                 severity: int | None) -> dict[str, Any]:
    config = job.get("configuration") or {}
    conditions = [c.get("evalCondition") or {} for c in config.get("severityConfigurations") or []]
    with state.lock:
        consecutive = state.alert_runs.get(f"{project}/{job['name']}", {}).get("consecutive", 0)
    return {"__time__": int(now), "__source__": "sls-alert", "__topic__": "",
            "AlertName": job["name"], "AlertDisplayName": job.get("displayName", ""),
            "AlertID": f"{uuid.uuid4().hex}-{int(now * 1000):x}", "AlertStatus": status,
            "Condition": json.dumps(conditions, ensure_ascii=False), "Dashboard": config.get("dashboard", ""),
            "FireCount": str(consecutive), "Fired": "true" if status == "firing" else "false",
            "NotifyStatus": notify_status, "Reason": reason,
            "Results": json.dumps(results, ensure_ascii=False),
            "Status": "Failed" if status == "error" else "Success",
            "Severity": "" if severity is None else str(severity), "Project": project,
            "LastNotifiedAt": str(int(time.time())) if notify_status in ("Success", "PartialSuccess") else ""}


def _history_index() -> dict[str, Any]:
    token = [",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":",
             "\n", "\t", "\r"]
    text = {"type": "text", "token": token, "caseSensitive": False, "chn": False, "doc_value": True}
    return {"line": {"token": token, "caseSensitive": False, "chn": False},
            "keys": {k: dict(text) for k in _HISTORY_KEYS}}


def _append_history(state: SandboxState, rule_project: str, row: dict[str, Any]) -> None:
    from ackaudit.sandbox.ack_tasks import ensure_project

    with state.lock:
        region = (state.projects.get(rule_project) or {}).get("region") or "cn-hangzhou"
        name = history_project(region)
        project = ensure_project(state, name, region, "SLS alerting: alert history and alert center logs")
        if HISTORY_LOGSTORE not in project["logstores"]:
            stamp = int(time.time())
            project["logstores"][HISTORY_LOGSTORE] = {
                "logstoreName": HISTORY_LOGSTORE, "ttl": 30, "shardCount": 2, "enable_tracking": False,
                "autoSplit": True, "maxSplitShard": 64, "appendMeta": True, "telemetryType": "",
                "mode": "standard", "createTime": stamp, "lastModifyTime": stamp}
            state.events.ensure_logstore(name, HISTORY_LOGSTORE)
        if HISTORY_LOGSTORE not in project["indexes"]:
            project["indexes"][HISTORY_LOGSTORE] = _history_index()
            state.events.set_index(name, HISTORY_LOGSTORE, project["indexes"][HISTORY_LOGSTORE])
        state.events.append(name, HISTORY_LOGSTORE, [row])


# -- the scheduler thread -------------------------------------------------------------------------

class Scheduler:
    """Runs `tick` in the background while the sandbox server runs."""

    def __init__(self, state: SandboxState, period: float = 0.25) -> None:
        import threading

        self.state, self.period = state, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ackaudit-sandbox-alerts", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            if not self.state.settings.get("alert_schedule", True):
                continue
            try:
                tick(self.state)
            except Exception:   # one broken rule must not stop the engine
                log.exception("sandbox alert engine tick failed")
