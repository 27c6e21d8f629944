"""Alerting on one cluster's audit log: set up, plan, check, test and remove (seed step 4).

`setup` reads every object first and writes only what differs from the bundled definitions
(`alert_objects.py`), so a second run changes nothing. Differences are computed on the fields
ackaudit sets, so what the service adds on its own (times, defaults) is not drift. Webhook URLs and
signing secrets are credentials: every message leaving this module is scrubbed of them.

Objects made by hand are never taken over or deleted without saying so. An object is ackaudit's
when it carries ackaudit's mark (an alert rule the tag `ackaudit`, an action policy the label
`managed_by: ackaudit` or ackaudit's id prefix, which policies made before the label have), or,
for objects whose model has no field for a mark, when it has ackaudit's id prefix (users and user
groups) or an action policy of ackaudit's uses it (the webhooks and templates, which have the
guide's ids). Any other object in the way is hand-made: `setup` and `remove` refuse to touch it
unless told `--adopt`; `plan` shows it. When a setup stops using a webhook, user or user group
that nothing else uses, it deletes it, so that nothing ackaudit made is left looking hand-made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ackaudit.errors import AckAuditError, PreconditionError, UsageError
from ackaudit.services import alert_people
from ackaudit.services.alert_channels import (
    CHANNEL_TYPES,
    SEED_WEBHOOK_ID,
    Channel,
    Delivery,
    scrub,
    send,
    url_problem,
)
from ackaudit.services.alert_custom import Customisation, stored_in
from ackaudit.services.alert_definitions import LANGS, SEVERITIES, load_definitions, render
from ackaudit.services.alert_objects import (
    KINDS,
    POLICY_LABEL,
    POLICY_RESOURCE,
    RULE_PREFIX,
    RULE_TAG,
    TEMPLATE_RESOURCE,
    WEBHOOK_RESOURCES,
    Desired,
    action_policy,
    alert_rule,
    differences,
    rule_name,
    template,
    user_groups,
    users,
    webhook,
)
from ackaudit.services.alert_people import GROUP_RESOURCE, USER_RESOURCE, Recipient
from ackaudit.services.cluster import ClusterContext


@dataclass
class ObjectState:
    kind: str                 # webhook | template | user | user_group | action_policy | alert_rule
    id: str
    action: str               # setup/plan: create, update, unchanged, adopt (hand-made), delete (no
                              # longer used); status: present, missing, drifted; remove: delete, keep,
                              # hand-made (kept: not ackaudit's)
    changes: list[str] = field(default_factory=list)
    enabled: bool | None = None
    last_modified: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SetupResult:
    cluster_id: str
    project: str
    logstore: str
    lang: str
    dry_run: bool
    channels: list[dict[str, Any]]
    objects: list[ObjectState]

    @property
    def changed(self) -> bool:
        return any(o.action != "unchanged" for o in self.objects)

    @property
    def hand_made(self) -> list[ObjectState]:
        return [o for o in self.objects if o.action == "adopt"]

    def to_json(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "project": self.project, "logstore": self.logstore,
                "lang": self.lang, "dry_run": self.dry_run, "changed": self.changed and not self.dry_run,
                "channels": self.channels, "objects": [o.to_json() for o in self.objects]}


@dataclass
class StatusResult:
    cluster_id: str
    project: str
    lang: str
    channels: list[dict[str, Any]]
    objects: list[ObjectState]

    @property
    def missing(self) -> list[ObjectState]:
        return [o for o in self.objects if o.action == "missing"]

    @property
    def drifted(self) -> list[ObjectState]:
        return [o for o in self.objects if o.action == "drifted"]

    def to_json(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "project": self.project, "lang": self.lang,
                "ok": not self.missing and not self.drifted, "channels": self.channels,
                "objects": [o.to_json() for o in self.objects]}


@dataclass
class TestResult:
    cluster_id: str
    deliveries: list[Delivery]
    # The channels configured that SLS sends itself (email, SMS, voice, Notification Center): not
    # sent by the test; `alerts test --e2e` proves them.
    sent_by_sls: list[Recipient] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.deliveries)

    def to_json(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "ok": self.ok, "deliveries": [d.to_json() for d in self.deliveries],
                "sent_by_sls": [r.describe() for r in self.sent_by_sls]}


@dataclass
class RemoveResult:
    cluster_id: str
    project: str
    dry_run: bool
    objects: list[ObjectState]

    @property
    def to_delete(self) -> list[ObjectState]:
        return [o for o in self.objects if o.action == "delete"]

    @property
    def hand_made(self) -> list[ObjectState]:
        """Objects in the way that ackaudit did not make, left alone (without --adopt)."""
        return [o for o in self.objects if o.action == "hand-made"]

    def to_json(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "project": self.project, "dry_run": self.dry_run,
                "changed": bool(self.to_delete) and not self.dry_run,
                "objects": [o.to_json() for o in self.objects]}


# -- reading what exists ------------------------------------------------------------------------

class _Account:
    """What exists in SLS, each object read at most once."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx, self.sls = ctx, ctx.cloud.sls
        self._seen: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._lists: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._webhook_resource: str | None = None

    @property
    def project(self) -> str:
        return self.ctx.project[0]

    @property
    def webhook_resource(self) -> str:
        if self._webhook_resource is None:
            found = next((name for name in WEBHOOK_RESOURCES if self.sls.resource_exists(name)), None)
            if found is None:
                raise AckAuditError("this account has no SLS webhook-integration resource "
                                    f"({' or '.join(WEBHOOK_RESOURCES)})",
                                    hint="open the SLS console's Alert Center once to initialise alerting, then retry")
            self._webhook_resource = found
        return self._webhook_resource

    def resource_of(self, kind: str) -> str:
        return {"webhook": self.webhook_resource, "template": TEMPLATE_RESOURCE, "user": USER_RESOURCE,
                "user_group": GROUP_RESOURCE, "action_policy": POLICY_RESOURCE}[kind]

    @property
    def own_policies(self) -> list[str]:
        """The ids of this cluster's action policies (one per rule, named as the rule)."""
        return [rule_name(self.ctx.cluster_id, r) for r in load_definitions().rules]

    def records(self, kind: str) -> list[dict[str, Any]]:
        key = ("*", kind)
        if key not in self._lists:
            self._lists[key] = self.sls.list_records(self.resource_of(kind))
        return self._lists[key]

    def other_policies(self) -> list[dict[str, Any]]:
        """Every action policy of the account but this cluster's."""
        return [p for p in self.records("action_policy") if p["id"] not in self.own_policies]

    def made_by_ackaudit(self, kind: str, object_id: str, current: dict[str, Any]) -> bool:
        if kind == "alert_rule":
            return RULE_TAG in (((current.get("configuration") or {}).get("tags")) or [])
        if kind == "action_policy":
            return _ackaudit_policy(current)
        if kind in ("user", "user_group"):
            return object_id.startswith(alert_people.ID_PREFIX)
        return any(_mentions(p, object_id) for p in self.records("action_policy") if _ackaudit_policy(p))

    def current(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """A record (`{"id", "tag", "value", "lastModifyTime"}`) or a rule's detail, or None."""
        key = (kind, object_id)
        if key not in self._seen:
            if kind == "alert_rule":
                self._seen[key] = self.sls.get_alert(self.project, object_id)
            else:
                self._seen[key] = self.sls.get_record(self.resource_of(kind), object_id)
        return self._seen[key]

    def configured_channels(self) -> list[Channel]:
        """The webhooks an earlier setup configured: those this cluster's action policies fire, or,
        before this cluster has any, every webhook record of a channel type."""
        policies = [p for p in (self.current("action_policy", i) for i in self.own_policies) if p]
        channels = []
        for kind in CHANNEL_TYPES.values():
            if policies and not any(_mentions(p, kind.webhook_id) for p in policies):
                continue
            record = self.current("webhook", kind.webhook_id)
            value = (record or {}).get("value") or {}
            if value.get("url"):
                channels.append(Channel(kind, value["url"], value.get("secret") or None))
        return channels

    def group_members(self, kind: str) -> list[str]:
        group = self.current("user_group", alert_people.group_id(self.ctx.cluster_id, kind))
        members = ((group or {}).get("value") or {}).get("members") or []
        return [m for m in members if isinstance(m, str)]

    def configured_recipients(self) -> list[Recipient]:
        """The email, SMS and voice recipients an earlier setup configured (the members of this
        cluster's groups), and the Notification Center when this cluster's policies send to it."""
        found = []
        for kind in alert_people.KINDS:
            for member in self.group_members(kind):
                recipient = alert_people.from_user((self.current("user", member) or {}).get("value"), kind)
                if recipient is not None:
                    found.append(recipient)
        policies = [self.current("action_policy", i) for i in self.own_policies]
        if any(alert_people.fires_message_center((p or {}).get("value")) for p in policies):
            found.append(alert_people.NOTIFICATION_CENTER)
        return found


class _Masker:
    """Scrubs the secrets of every channel seen so far from errors that pass through."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    def add(self, channels: list[Channel]) -> list[Channel]:
        for ch in channels:
            self.secrets += ch.secrets
        return channels

    @contextmanager
    def active(self) -> Iterator[_Masker]:
        try:
            yield self
        except AckAuditError as exc:
            exc.message = scrub(exc.message, self.secrets)
            exc.hint = scrub(exc.hint, self.secrets) if exc.hint else exc.hint
            exc.args = (exc.message,)
            raise


def _iso(stamp: Any) -> str | None:
    try:
        seconds = int(stamp)
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _hidden(shown: Any) -> bool:
    return isinstance(shown, str) and "***" in shown


def _hides(shown: Any, actual: Any) -> bool:
    """Whether `shown` is `actual` with its secret part starred out.

    UNCONFIRMED whether SLS returns webhook URLs and secrets in full: its documentation shows them
    as `...access_token=**********` and `SEC**********`. A starred value that keeps the real prefix
    is taken as unchanged.
    """
    return _hidden(shown) and isinstance(actual, str) and actual.startswith(shown.split("***", 1)[0])


def _compare(desired: Desired, current: dict[str, Any] | None) -> list[str]:
    if desired.kind == "alert_rule":
        return differences(desired.value, current)
    shown = dict((current or {}).get("value") or {})
    if desired.kind == "webhook":
        shown.update({k: desired.value[k] for k in ("url", "secret") if _hides(shown.get(k), desired.value.get(k))})
    changes = differences(desired.value, shown if current and current.get("value") is not None else None)
    if desired.kind == "webhook" and "secret" in shown and "secret" not in desired.value:
        changes.append("secret")   # the robot is no longer signed
    return changes + (["tag"] if (current or {}).get("tag") != desired.tag else [])


def _rule_enabled(current: dict[str, Any]) -> bool:
    state = current.get("status") or current.get("state") or "ENABLED"
    return str(state).upper() == "ENABLED"


def _desired(ctx: ClusterContext, project: str, channels: list[Channel], lang: str,
             custom: Customisation | None = None, recipients: list[Recipient] | None = None) -> list[Desired]:
    defs = load_definitions()
    recipients = recipients or []
    schedule = (defs.interval, defs.start, defs.end)
    objects = [webhook(ch) for ch in channels]
    objects += [template(t, lang) for t in defs.templates]
    objects += users(recipients) + user_groups(ctx.cluster_id, recipients)
    objects += [action_policy(ctx.cluster_id, r, channels, lang, recipients) for r in defs.rules]
    objects += [alert_rule(ctx.cluster_id, project, ctx.logstore, ctx.cloud.region, r, lang, schedule, custom)
                for r in defs.rules]
    return objects


def _stored_customisation(account: _Account) -> Customisation | None:
    """The risky list and exclusions the rules carry (the first rule that exists tells)."""
    for rule in load_definitions().rules:
        found = stored_in(account.current("alert_rule", rule_name(account.ctx.cluster_id, rule)))
        if found is not None:
            return found
    return None


def _query_diff(desired: Desired, current: dict[str, Any] | None) -> str | None:
    """What changes in a rule's query, term by term: `- removed`, `+ added`."""
    if desired.kind != "alert_rule" or current is None:
        return None
    try:
        old = current["configuration"]["queryList"][0]["query"]
    except (KeyError, IndexError, TypeError):
        return None
    new = desired.value["configuration"]["queryList"][0]["query"]
    if old == new:
        return None
    split = re.compile(r" and |, | in \(|\)$| \| ")
    old_terms, new_terms = [t for t in split.split(old) if t], [t for t in split.split(new) if t]
    removed = [f"- {t}" for t in old_terms if t not in new_terms]
    added = [f"+ {t}" for t in new_terms if t not in old_terms]
    return "query: " + "; ".join(removed + added)


def require_audit(ctx: ClusterContext, project: str) -> None:
    ctx.ensure_exists()
    hint = f"enable it first: ackaudit enable --cluster {ctx.cluster_id}"
    if ctx.audit_addon is None:
        raise PreconditionError(f"audit is not enabled on {ctx.cluster_id}: the alert rules read its logstore",
                                hint=hint)
    if ctx.cloud.sls.get_logstore(project, ctx.logstore) is None:
        raise PreconditionError(f"the audit logstore {project}/{ctx.logstore} does not exist", hint=hint)


def _channels_or_configured(account: _Account, given: list[Channel], recipients: list[Recipient],
                            cluster_id: str) -> tuple[list[Channel], list[Recipient]]:
    """The channels asked for; when none is, the ones configured (webhooks and recipients alike)."""
    if given or recipients:
        return given, recipients
    channels, recipients = account.configured_channels(), account.configured_recipients()
    for ch in channels:
        problem = url_problem(ch.type, ch.url, allow_any_url=True) if not _hidden(ch.url) else None
        if problem is not None:
            raise UsageError(f"the configured {ch.type.label} webhook cannot be used: {problem[0]}",
                             hint=f"give its URL again: ackaudit alerts setup --cluster {cluster_id} "
                                  f"--{ch.type.name}-url URL")
    if not channels and not recipients:
        raise UsageError("no notification channel given and none configured yet",
                         hint=f"ackaudit alerts setup --cluster {cluster_id} --dingtalk-url URL "
                              "(or --wecom-url, --lark-url, --slack-url, --webhook-url, --email, --sms, --voice, "
                              "--notification-center)")
    return channels, recipients


def _ackaudit_policy(record: dict[str, Any]) -> bool:
    labels = (record.get("value") or {}).get("labels")
    labelled = isinstance(labels, dict) and labels.get(POLICY_LABEL[0]) == POLICY_LABEL[1]
    return labelled or str(record.get("id") or "").startswith(RULE_PREFIX)


_KIND_NAMES = {"webhook": "webhook", "template": "template", "user": "user", "user_group": "user group",
               "action_policy": "action policy", "alert_rule": "alert rule"}


def named(objects: list[ObjectState]) -> str:
    """`webhook a, template b` for a message."""
    return ", ".join(f"{_KIND_NAMES[o.kind]} {o.id}" for o in objects)


# -- setup / plan -------------------------------------------------------------------------------

CustomChoice = Callable[[Customisation | None], Customisation]


def setup(ctx: ClusterContext, channels: list[Channel], lang: str, *, dry_run: bool = False,
          custom: CustomChoice | None = None, recipients: list[Recipient] | None = None,
          adopt: bool = False) -> SetupResult:
    """Bring every object up to date with the definitions (only describe it with dry_run).

    With no channel given (webhooks or recipients), the ones configured by an earlier setup are
    kept; `custom` turns the customisation the rules carry into the one wanted (default: keep it).
    Objects in the way that ackaudit did not make are taken over only with `adopt`: without it
    setup refuses before writing anything (a dry run shows them).
    """
    if lang not in LANGS:
        raise UsageError(f"--lang must be one of {', '.join(LANGS)}")
    masker = _Masker()
    masker.add(channels)
    with masker.active():
        account = _Account(ctx)
        require_audit(ctx, account.project)
        channels, recipients = _channels_or_configured(account, channels, recipients or [], ctx.cluster_id)
        masker.add(channels)
        stored = _stored_customisation(account)
        wanted = custom(stored) if custom is not None else (stored or Customisation())
        plans = []
        desired_objects = _desired(ctx, account.project, channels, lang, wanted, recipients)
        for desired in desired_objects:
            current = account.current(desired.kind, desired.id)
            changes = _compare(desired, current) if current is not None else []
            action = "create" if current is None else ("update" if changes else "unchanged")
            note = _query_diff(desired, current)
            if current is not None and not account.made_by_ackaudit(desired.kind, desired.id, current):
                action = "adopt"
                note = ("hand-made: would be adopted" + ("" if adopt else " with --adopt") if dry_run
                        else "hand-made: adopted")
            plans.append((desired, current, ObjectState(desired.kind, desired.id, action, changes, note=note)))
        unused = [ObjectState(kind, object_id, "delete", note="no longer used by any action policy")
                  for kind, object_id in _no_longer_used(account, desired_objects)]
        hand_made = [state for _, _, state in plans if state.action == "adopt"]
        if hand_made and not adopt and not dry_run:
            raise UsageError(f"not made by ackaudit, and in the way: {named(hand_made)}; setup takes them over "
                             "only with --adopt",
                             hint=f"`ackaudit alerts plan --cluster {ctx.cluster_id}` shows what would change in "
                                  "them; add --adopt to take them over (also when an interrupted ackaudit run "
                                  "left them)")
        if not dry_run:
            for desired, current, state in plans:
                if state.action != "unchanged":
                    _write(account, desired, current)
            for state in unused:
                account.sls.delete_records(account.resource_of(state.kind), [state.id])
        objects = [state for _, _, state in plans] + unused
        return SetupResult(ctx.cluster_id, account.project, ctx.logstore, lang, dry_run,
                           [ch.describe() for ch in channels] + [r.describe() for r in recipients], objects)


def _no_longer_used(account: _Account, desired: list[Desired]) -> list[tuple[str, str]]:
    """The webhooks, user groups and users this cluster's action policies or groups used and the
    new ones do not, and that nothing else uses: (kind, id), in the order they can be deleted."""
    before = [p for p in (account.current("action_policy", i) for i in account.own_policies) if p]
    after = [{"value": d.value} for d in desired if d.kind == "action_policy"]
    others = account.other_policies()
    found: list[tuple[str, str]] = []
    candidates = [("user_group", alert_people.group_id(account.ctx.cluster_id, k)) for k in alert_people.KINDS]
    candidates += [("webhook", kind.webhook_id) for kind in CHANNEL_TYPES.values()]
    for kind, object_id in candidates:
        if (any(_mentions(p, object_id) for p in before) and not any(_mentions(p, object_id) for p in after)
                and not any(_mentions(p, object_id) for p in others)
                and account.current(kind, object_id) is not None):
            found.append((kind, object_id))
    members_before = {m for k in alert_people.KINDS for m in account.group_members(k)}
    members_after = {m for d in desired if d.kind == "user_group" for m in d.value["members"]}
    for user_id in sorted(members_before - members_after):
        if not _used_elsewhere(account, user_id) and account.current("user", user_id) is not None:
            found.append(("user", user_id))
    return found


def _used_elsewhere(account: _Account, user_id: str) -> list[str]:
    """The other user groups and action policies that name this user."""
    own_groups = {alert_people.group_id(account.ctx.cluster_id, k) for k in alert_people.KINDS}
    groups = [f"user group {g['id']}" for g in account.records("user_group") if g["id"] not in own_groups
              and user_id in (((g.get("value") or {}).get("members")) or [])]
    return groups + [f"action policy {p['id']}" for p in account.other_policies() if _mentions(p, user_id)]


def _write(account: _Account, desired: Desired, current: dict[str, Any] | None) -> None:
    if desired.kind != "alert_rule":
        account.sls.upsert_record(account.resource_of(desired.kind), desired.id, desired.tag or desired.id,
                                  desired.value)
    elif current is None:
        account.sls.create_alert(account.project, desired.value)
    else:
        # Whether a rule is enabled is the user's choice (the console toggles it): keep it.
        detail = dict(desired.value)
        if current.get("status"):
            detail["status"] = current["status"]
        elif str(current.get("state", "")).lower() == "disabled":   # a service answering the old field only
            detail["status"] = "DISABLED"
        account.sls.update_alert(account.project, detail)


# -- status -------------------------------------------------------------------------------------

def status(ctx: ClusterContext) -> StatusResult:
    """Each object: present, missing or drifted; rules enabled or not; when last modified.

    The language is the one the existing objects match best (templates exist in one language).
    """
    masker = _Masker()
    with masker.active():
        ctx.ensure_exists()
        account = _Account(ctx)
        channels = masker.add(account.configured_channels())
        recipients = account.configured_recipients()
        best: tuple[int, str, list[ObjectState]] | None = None
        custom = _stored_customisation(account)
        for lang in LANGS:
            states = [_state(account, d, account.current(d.kind, d.id))
                      for d in _desired(ctx, account.project, channels, lang, custom, recipients)]
            if not channels and not recipients:
                states.insert(0, ObjectState("webhook", SEED_WEBHOOK_ID, "missing"))
            score = sum(s.action != "present" for s in states)
            if best is None or score < best[0]:
                best = (score, lang, states)
        assert best is not None
        return StatusResult(ctx.cluster_id, account.project, best[1],
                            [ch.describe() for ch in channels] + [r.describe() for r in recipients], best[2])


def _state(account: _Account, desired: Desired, current: dict[str, Any] | None) -> ObjectState:
    if current is None:
        return ObjectState(desired.kind, desired.id, "missing")
    changes = _compare(desired, current)
    state = ObjectState(desired.kind, desired.id, "drifted" if changes else "present", changes)
    if not account.made_by_ackaudit(desired.kind, desired.id, current):
        state.note = "hand-made (not made by ackaudit): `alerts setup --adopt` takes it over"
    if desired.kind == "alert_rule":
        state.enabled = _rule_enabled(current)
        state.last_modified = _iso(current.get("lastModifiedTime"))
    else:
        state.last_modified = _iso(current.get("lastModifyTime"))
    return state


# -- test ---------------------------------------------------------------------------------------

_SEVERITY_NAMES_ZH = {2: "报告", 4: "低", 6: "中", 8: "高", 10: "严重"}   # as the SLS console names them

def test_message(cluster_id: str, lang: str, now: datetime | None = None) -> tuple[str, str]:
    """(title, Markdown text): the "container entered" alert as it would arrive, marked as a test."""
    defs = load_definitions()
    rule = defs.rules[0]
    tmpl = defs.template(rule.template_id)
    moment = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds").replace("+00:00", "Z")
    sample = {"clusterid": cluster_id, "time": moment, "traceId": "ackaudit-test", "k8s.user.username": "ackaudit-test",
              "k8s.pod.namespace": "default", "k8s.pod.name": "ackaudit-test",
              "kubeobject.operation.podexecoptions.container": "app",
              "kubeobject.operation.podexecoptions.commandstr": "bash"}
    console = "https://sls.console.aliyun.com/"
    severity = _SEVERITY_NAMES_ZH[rule.severity] if lang == "zh" else SEVERITIES[rule.severity]
    variables = {"alert_name": rule.display_name[lang], "alert_time": moment,
                 "severity": severity, "query_url": console, "alert_url": console}
    intro = {"zh": "**这是 ackaudit 发送的测试通知**,告警会以下面的格式送达:",
             "en": "**This is a test notification from ackaudit**; alerts will arrive like this:"}[lang]
    return tmpl.title[lang], f"{intro}\n\n{render(tmpl.content[lang], variables, sample)}"


def send_test(ctx: ClusterContext, channels: list[Channel], lang: str, *,
              deliver_to: str | None = None) -> TestResult:
    """Post one test message to each channel (given, or configured by setup) and collect the answers.

    `deliver_to` sends to that base URL instead of the channel's host (the sandbox's robots).
    """
    masker = _Masker()
    masker.add(channels)
    with masker.active():
        ctx.ensure_exists()
        by_sls: list[Recipient] = []
        if not channels:
            account = _Account(ctx)
            channels = masker.add(account.configured_channels())
            by_sls = account.configured_recipients()
            if not channels and by_sls:
                kinds = {r.kind for r in by_sls}
                are = "is" if len(kinds) == 1 and kinds != {"voice"} else "are"
                raise PreconditionError(f"only {alert_people.labels(by_sls)} {are} configured, and SLS sends "
                                        "those itself",
                                        hint=f"prove them end to end: ackaudit alerts test --cluster {ctx.cluster_id} "
                                             "--e2e")
        if not channels:
            raise PreconditionError("no webhook is configured for alerts",
                                    hint=f"ackaudit alerts setup --cluster {ctx.cluster_id} --dingtalk-url URL")
        if any(_hidden(ch.url) or _hidden(ch.secret) for ch in channels):
            raise PreconditionError("SLS does not show the configured webhook's URL or secret in full",
                                    hint="give them to test: ackaudit alerts test --cluster "
                                         f"{ctx.cluster_id} --dingtalk-url URL [--dingtalk-secret SEC...]")
        title, text = test_message(ctx.cluster_id, lang)
        return TestResult(ctx.cluster_id, [send(ch, title, text, deliver_to=deliver_to) for ch in channels], by_sls)


# -- remove -------------------------------------------------------------------------------------

def plan_removal(ctx: ClusterContext, *, adopt: bool = False) -> RemoveResult:
    """What `remove` deletes: this cluster's rules, action policies and user groups, and the shared
    templates, webhooks and users unless something else still uses them. Objects ackaudit did not
    make are left alone (action `hand-made`), unless `adopt`."""
    masker = _Masker()
    with masker.active():
        ctx.ensure_exists()
        account = _Account(ctx)
        masker.add(account.configured_channels())
        defs = load_definitions()
        own = sorted(account.own_policies)
        others = account.other_policies()
        candidates = [("alert_rule", name) for name in own] + [("action_policy", name) for name in own]
        candidates += [("user_group", alert_people.group_id(ctx.cluster_id, k)) for k in alert_people.KINDS]
        candidates += [("user", m) for k in alert_people.KINDS for m in account.group_members(k)]
        candidates += [("template", t.id) for t in defs.templates]
        candidates += [("webhook", kind.webhook_id) for kind in CHANNEL_TYPES.values()]
        objects = []
        for kind, object_id in dict.fromkeys(candidates):
            current = account.current(kind, object_id)
            if current is None:
                continue
            if kind == "user":
                users_of = _used_elsewhere(account, object_id)
            else:
                users_of = [f"action policy {p['id']}" for p in others if kind in ("template", "webhook", "user_group")
                            and _mentions(p, object_id)]
            if users_of:
                objects.append(ObjectState(kind, object_id, "keep", note=f"used by {', '.join(users_of)}"))
            elif not account.made_by_ackaudit(kind, object_id, current):
                objects.append(ObjectState(kind, object_id, "delete" if adopt else "hand-made",
                                           note="hand-made: deleted with --adopt" if adopt else
                                           "hand-made (not made by ackaudit): kept; --adopt deletes it"))
            else:
                objects.append(ObjectState(kind, object_id, "delete"))
        objects.sort(key=lambda o: KINDS.index(o.kind), reverse=True)
        return RemoveResult(ctx.cluster_id, account.project, True, objects)


def _mentions(policy: dict[str, Any], object_id: str) -> bool:
    value = policy.get("value") or {}
    scripts = f"{value.get('primary_policy_script', '')}\n{value.get('secondary_policy_script', '')}"
    return f'"{object_id}"' in scripts


def remove(ctx: ClusterContext, plan: RemoveResult) -> RemoveResult:
    """Delete what `plan_removal` found, rules first, so nothing is left pointing at a missing object."""
    account = _Account(ctx)
    for state in plan.to_delete:
        if state.kind == "alert_rule":
            account.sls.delete_alert(account.project, state.id)
        else:
            account.sls.delete_records(account.resource_of(state.kind), [state.id])
    return RemoveResult(plan.cluster_id, plan.project, False, plan.objects)
