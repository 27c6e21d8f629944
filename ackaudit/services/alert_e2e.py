"""`alerts test --e2e`: prove the whole alert path with a harmless canary.

1. exec, through the Kubernetes API, the guide's own test in a running pod: `touch a.txt && rm
   a.txt`, in a fresh directory under /tmp named after the run (removed again);
2. wait until the audit agent's PodExec event for it is in the audit logstore: its traceId names
   this run from here on;
3. wait until each alert rule has an evaluation in the SLS alert history whose results carry that
   traceId (the rule fired for the canary), and
4. whose notifications all went out (NotifyStatus Success: a PartialSuccess, one channel of
   several failing, is a broken link too).
Each step's latency is measured from the exec. When a step does not happen in time, the report
says which link broke and what to check: a rule that is missing or disabled, a rule that ran over
the canary's minute without matching it (an exclusion, a changed query), a rule that has not run,
a notification that failed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ackaudit.audit.query import EXEC_EVENTS, term
from ackaudit.errors import AckAuditError, UsageError
from ackaudit.services import alert_history
from ackaudit.services.alert_custom import stored_in
from ackaudit.services.alert_definitions import load_definitions
from ackaudit.services.alert_objects import rule_name
from ackaudit.services.cluster import ClusterContext

Progress = Callable[[str], None]


@dataclass
class Step:
    name: str                  # exec | audit event | <rule> fired | <rule> notified
    ok: bool
    seconds: float | None      # since the exec started
    detail: str
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class E2EResult:
    cluster_id: str
    pod: str
    marker: str
    trace_id: str | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def broken(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    def to_json(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "pod": self.pod, "trace_id": self.trace_id, "marker": self.marker,
                "ok": self.ok, "steps": [s.to_json() for s in self.steps]}


@dataclass
class _Rule:
    name: str
    key: str
    detail: dict[str, Any] | None
    fired: Step | None = None
    notified: Step | None = None


def canary_command(marker: str) -> list[str]:
    """The guide's test in a directory of its own, which it removes again."""
    where = f"/tmp/{marker}"
    return ["sh", "-c", f"mkdir -p {where} && cd {where} && touch a.txt && rm a.txt && cd / && rm -r {where}"]


def _pick_pod(ctx: ClusterContext, pod: str | None) -> tuple[str, str]:
    if pod is not None:
        namespace, _, name = pod.partition("/")
        if not namespace or not name or "/" in name:
            raise UsageError(f"--pod {pod!r} is not namespace/name")
        return namespace, name
    running = [p for p in ctx.kube.list_all_pods() if p.phase == "Running" and p.ready]
    running.sort(key=lambda p: (p.namespace == "kube-system", p.namespace, p.name))
    if not running:
        raise AckAuditError(f"no running pod in {ctx.cluster_id} to run the canary in",
                            hint="start one, or name one with --pod namespace/name")
    return running[0].namespace, running[0].name


def run(ctx: ClusterContext, *, pod: str | None, timeout: float, poll: float,
        progress: Progress = lambda _: None) -> E2EResult:
    from ackaudit.services.alerting import require_audit

    ctx.ensure_exists()
    project = ctx.project[0]
    require_audit(ctx, project)
    defs = load_definitions()
    rules = [_Rule(rule_name(ctx.cluster_id, r), r.key, ctx.cloud.sls.get_alert(project, rule_name(ctx.cluster_id, r)))
             for r in defs.rules]
    namespace, name = _pick_pod(ctx, pod)
    marker = f"ackaudit-canary-{secrets.token_hex(4)}"
    result = E2EResult(ctx.cluster_id, f"{namespace}/{name}", marker)
    progress(f"running the canary in {namespace}/{name}")
    started = time.time()
    if not _exec(ctx, result, namespace, name, marker, started):
        return result
    deadline = started + timeout
    event = _wait_for_event(ctx, result, namespace, name, marker, started, deadline, poll, progress)
    if event is None:
        return result
    _wait_for_rules(ctx, result, rules, event, started, deadline, poll, progress)
    for rule in rules:
        result.steps += [s for s in (rule.fired, rule.notified) if s is not None]
    return result


def _exec(ctx: ClusterContext, result: E2EResult, namespace: str, name: str, marker: str, started: float) -> bool:
    try:
        output, code = ctx.kube.exec(namespace, name, canary_command(marker))
    except AckAuditError as exc:
        result.steps.append(Step("exec", False, None, f"could not exec into {namespace}/{name}: {exc.message}",
                                 "the identity needs the pods/exec permission; pick another pod with --pod"))
        return False
    except Exception as exc:   # the stream client raises its own errors for failed upgrades
        result.steps.append(Step("exec", False, None, f"could not exec into {namespace}/{name}: {exc}",
                                 "the identity needs the pods/exec permission; pick another pod with --pod"))
        return False
    if code not in (0, None):
        detail = f"the canary exited with {code} in {namespace}/{name}: {output.strip()[:200]}"
        result.steps.append(Step("exec", False, time.time() - started, detail,
                                 "the pod needs sh, mkdir, touch and rm; pick another pod with --pod"))
        return False
    result.steps.append(Step("exec", True, time.time() - started, f"ran {' '.join(canary_command(marker)[2:])}"))
    return True


def _wait_for_event(ctx: ClusterContext, result: E2EResult, namespace: str, name: str, marker: str,
                    started: float, deadline: float, poll: float, progress: Progress) -> dict[str, str] | None:
    progress("waiting for the audit event")
    query = f"{EXEC_EVENTS} and {term('k8s.pod.namespace', namespace)} and {term('k8s.pod.name', name)}"
    while True:
        now = time.time()
        page = ctx.cloud.sls.get_logs(ctx.project[0], ctx.logstore, query, int(started) - 60, int(now) + 60, line=100)
        event = next((r for r in page.rows if marker in (r.get("kubeObject") or r.get("kubeobject") or "")), None)
        if event is not None and event.get("traceId"):
            result.trace_id = event["traceId"]
            result.steps.append(Step("audit event", True, time.time() - started,
                                     f"PodExec event {event.get('eventId', '')} in {ctx.project[0]}/{ctx.logstore}, "
                                     f"traceId {event['traceId']}"))
            return event
        if now >= deadline:
            result.steps.append(Step(
                "audit event", False, None,
                f"no audit event for the canary in {ctx.project[0]}/{ctx.logstore} after {now - started:.0f}s",
                f"check that ack-advanced-audit runs on the pod's node: ackaudit doctor --cluster {ctx.cluster_id}"))
            return None
        time.sleep(poll)


def _wait_for_rules(ctx: ClusterContext, result: E2EResult, rules: list[_Rule], event: dict[str, str],
                    started: float, deadline: float, poll: float, progress: Progress) -> None:
    for rule in rules:
        broken = _rule_problem(ctx, rule)
        if broken is not None:
            rule.fired = broken
    waiting = [r for r in rules if r.fired is None]
    trace = event["traceId"]
    evaluations: list[alert_history.Evaluation] = []
    while waiting:
        progress(f"waiting for {', '.join(r.name for r in waiting)} to fire")
        now = time.time()
        evaluations = alert_history.read(ctx, int(started) - 5, int(now) + 60, rules=[r.name for r in rules]).evaluations
        for rule in list(waiting):
            hit = next((e for e in evaluations if e.rule == rule.name and e.fired and e.mentions(trace)), None)
            if hit is None:
                continue
            waiting.remove(rule)
            rule.fired = Step(f"{rule.name} fired", True, hit.timestamp - started,
                              f"at {hit.time}, {hit.results} result(s) including the canary")
            rule.notified = _notified(ctx, rule, hit, started)
        if not waiting or now >= deadline:
            break
        time.sleep(poll)
    for rule in waiting:
        rule.fired = _why_not(ctx, rule, evaluations, event, started)


def _rule_problem(ctx: ClusterContext, rule: _Rule) -> Step | None:
    if rule.detail is None:
        return Step(f"{rule.name} fired", False, None, f"the alert rule {rule.name} does not exist",
                    f"create it: ackaudit alerts setup --cluster {ctx.cluster_id}")
    status = str(rule.detail.get("status") or rule.detail.get("state") or "ENABLED").upper()
    if status != "ENABLED":
        return Step(f"{rule.name} fired", False, None,
                    f"the alert rule {rule.name} is disabled: it never runs, so it cannot fire",
                    "enable it in the SLS console (Alert Center > Alert Rules) or with `aliyun log enable_alert`; "
                    "alerts setup keeps a rule's enabled state as it finds it")
    return None


def _notified(ctx: ClusterContext, rule: _Rule, hit: alert_history.Evaluation, started: float) -> Step:
    if hit.notify_status == "Success":
        return Step(f"{rule.name} notified", True, hit.timestamp - started,
                    f"notification {hit.notify_status.lower()}")
    if hit.delivered:   # PartialSuccess: one channel of several is broken
        return Step(f"{rule.name} notified", False, hit.timestamp - started,
                    f"some of the rule's notifications were not sent ({hit.notify_status}): {hit.reason}",
                    "the reason names the channel that failed; `ackaudit alerts setup --cluster "
                    f"{ctx.cluster_id}` with that channel's options repairs what setup made")
    return Step(f"{rule.name} notified", False, None,
                f"the rule fired but its notification was not sent ({hit.notify_status}): {hit.reason}",
                "check the webhook and the robot's security settings: "
                f"ackaudit alerts test --cluster {ctx.cluster_id}")


def _why_not(ctx: ClusterContext, rule: _Rule, evaluations: list[alert_history.Evaluation],
             event: dict[str, str], started: float) -> Step:
    event_time = int(event.get("__time__") or started)
    covering = [e for e in evaluations if e.rule == rule.name and e.start is not None and e.end is not None
                and e.start <= event_time < e.end]
    name = f"{rule.name} fired"
    if covering:
        last = covering[-1]
        excluded = _excluded_by(rule, event)
        why = f"excluded by the rule's exclusions ({excluded})" if excluded else \
            "its query does not match the canary (was the query changed?)"
        return Step(name, False, None,
                    f"the rule ran at {last.time} over the canary's minute and did not fire for it: {why}",
                    "compare with `ackaudit alerts plan --cluster " + ctx.cluster_id + "`" if not excluded else
                    "that is expected for excluded activity; rerun with --pod on a pod that is not excluded")
    mine = [e for e in evaluations if e.rule == rule.name]
    seen = f"its last evaluation was at {mine[-1].time}" if mine else "it has no evaluation since the canary ran"
    return Step(name, False, None, f"the rule has not evaluated the canary's minute yet: {seen}",
                "rules run every minute: rerun with a longer --timeout, and check the rule's schedule in the SLS console")


def _excluded_by(rule: _Rule, event: dict[str, str]) -> str | None:
    """Which of the rule's exclusions matches the canary's exec event, if any."""
    custom = stored_in(rule.detail)
    if custom is None or custom.empty:
        return None
    spec = custom.exclude
    k8s = _json(event.get("k8s"))
    user = (k8s.get("user") or {})
    pod = (k8s.get("pod") or {})
    for value in (user.get("username"), user.get("aliuid")):
        if value and value in spec.get("users", []):
            return f"user {value}"
    if pod.get("namespace") in spec.get("namespaces", []):
        return f"namespace {pod.get('namespace')}"
    import fnmatch

    for pattern in spec.get("pods", []):
        if pod.get("name") and fnmatch.fnmatchcase(pod["name"], pattern):
            return f"pod {pattern}"
    if rule.key == "risky" and "rm" in spec.get("programs", []):
        return "program rm"
    return None


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
