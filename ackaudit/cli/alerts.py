"""`ackaudit alerts ...`: alerting provisioned from bundled definitions."""

from typing import Annotated, Any

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, DryRunOpt, SinceOpt, YesOpt
from ackaudit.errors import UsageError, shown

app = typer.Typer(help="Provision, check, test and remove the audit alert rules and their webhook.",
                  no_args_is_help=True, rich_markup_mode=None)


def _check_lang(value: str) -> str:
    if value not in ("zh", "en"):
        raise typer.BadParameter(f"{shown(value)} is not zh or en")
    return value


def _url_option(flag: str, what: str) -> Any:
    return typer.Option(flag, help=what, show_default=False)


LangOpt = Annotated[str, typer.Option(
    "--lang", callback=_check_lang,
    help="Language of the notifications (templates and rule names): zh (the guide's wording) or en.")]
DingTalkUrlOpt = Annotated[str | None, _url_option(
    "--dingtalk-url", "DingTalk custom robot webhook URL (https://oapi.dingtalk.com/robot/send?access_token=...). "
    "A robot secured by keywords needs the keyword \"Kubernetes\": every notification title contains it.")]
DingTalkSecretOpt = Annotated[str | None, _url_option(
    "--dingtalk-secret", "The DingTalk robot's signing secret (SEC...), when it is secured by signing.")]
WeComUrlOpt = Annotated[str | None, _url_option(
    "--wecom-url", "WeCom group robot webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...).")]
LarkUrlOpt = Annotated[str | None, _url_option(
    "--lark-url", "Lark/Feishu custom bot webhook URL (https://open.feishu.cn/open-apis/bot/v2/hook/...).")]
LarkSecretOpt = Annotated[str | None, _url_option(
    "--lark-secret", "The Lark/Feishu bot's signing secret, when it is secured by signing.")]
SlackUrlOpt = Annotated[str | None, _url_option(
    "--slack-url", "Slack incoming webhook URL (https://hooks.slack.com/services/...).")]
WebhookUrlOpt = Annotated[str | None, _url_option(
    "--webhook-url", "Generic webhook URL: receives a JSON {\"title\", \"text\"} per notification.")]
AllowAnyUrlOpt = Annotated[bool, typer.Option(
    "--allow-any-url", help="Accept robot URLs on other hosts or over http (a proxy, a test endpoint, the sandbox).")]
RiskyOpt = Annotated[str | None, typer.Option(
    "--risky-programs", metavar="FILE", show_default=False,
    help="Replace the guide's 29 risky programs with these (one name per line, # comments).")]
AddRiskyOpt = Annotated[bool, typer.Option(
    "--add-risky", help="With --risky-programs: add the file's programs to the guide's 29 instead of replacing them.")]
EmailOpt = Annotated[list[str] | None, typer.Option(
    "--email", metavar="ADDRESS", show_default=False,
    help="Send the alerts by email to this address too (repeatable or comma-separated), through an SLS user "
         "and user group.")]
SmsOpt = Annotated[list[str] | None, typer.Option(
    "--sms", metavar="PHONE", show_default=False,
    help="Send the alerts by text message to this phone too (repeatable or comma-separated): "
         "+<country code> <number>, or a mainland China mobile number.")]
VoiceOpt = Annotated[list[str] | None, typer.Option(
    "--voice", metavar="PHONE", show_default=False,
    help="Call this phone too (repeatable or comma-separated; numbers as for --sms): SLS reads out a short "
         "sentence with the rule, the cluster and the count.")]
NotificationCenterOpt = Annotated[bool, typer.Option(
    "--notification-center", show_default=False,
    help="Send the alerts to the Alibaba Cloud account's Notification Center too: its contacts "
         "for alerts receive them.")]
AdoptOpt = Annotated[bool, typer.Option(
    "--adopt", help="Take over objects in the way that ackaudit did not make (the guide's webhook and "
                    "templates made by hand in the console); without it they are named and nothing changes.")]
ExcludeOpt = Annotated[str | None, typer.Option(
    "--exclude", metavar="FILE", show_default=False,
    help="Expected activity to leave out of both rules: a YAML/JSON mapping of users, namespaces, pods "
         "(names or prefixes ending in *) and programs (the risky-program rule) to lists.")]


def _channels(allow_any_url: bool, *, dingtalk_url: str | None = None, dingtalk_secret: str | None = None,
              wecom_url: str | None = None, lark_url: str | None = None, lark_secret: str | None = None,
              slack_url: str | None = None, webhook_url: str | None = None) -> list[Any]:
    from ackaudit.errors import UsageError
    from ackaudit.services.alert_channels import channel

    given = [("dingtalk", dingtalk_url, dingtalk_secret), ("wecom", wecom_url, None),
             ("lark", lark_url, lark_secret), ("slack", slack_url, None), ("webhook", webhook_url, None)]
    for name, url, secret in given:
        if secret is not None and url is None:
            raise UsageError(f"--{name}-secret needs --{name}-url")
    return [channel(name, url, secret, allow_any_url=allow_any_url) for name, url, secret in given if url]


def _recipients(emails: list[str] | None, phones: list[str] | None, voices: list[str] | None,
                notification_center: bool) -> list[Any]:
    from ackaudit.services.alert_people import recipients

    return recipients(emails, phones, voices, notification_center)


def _custom(risky_programs: str | None, add_risky: bool, exclude: str | None) -> Any:
    """What setup does with the rules' customisation: keep it, or apply the files given."""
    from ackaudit.services.alert_custom import customisation

    if risky_programs is None and exclude is None and not add_risky:
        return None
    customisation(risky_programs, add_risky, exclude, None)   # check the files before anything else
    return lambda stored: customisation(risky_programs, add_risky, exclude, stored)


def _context(cluster: str) -> Any:
    from ackaudit.services.cluster import ClusterContext

    return ClusterContext(cloud(), cluster)


@command(app, "setup", examples=[
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793 "
    "--dingtalk-url 'https://oapi.dingtalk.com/robot/send?access_token=6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8' --dingtalk-secret SEC0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793 --slack-url https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX --lang en",
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793 --slack-url https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX --email oncall@ops.example.org --sms '+86 13800138000' --voice '+86 13800138000' --notification-center",
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793          # again: the channels already configured are kept",
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793 --adopt  # take over the guide's objects made by hand"])
def setup(
    cluster: ClusterOpt,
    dingtalk_url: DingTalkUrlOpt = None,
    dingtalk_secret: DingTalkSecretOpt = None,
    wecom_url: WeComUrlOpt = None,
    lark_url: LarkUrlOpt = None,
    lark_secret: LarkSecretOpt = None,
    slack_url: SlackUrlOpt = None,
    webhook_url: WebhookUrlOpt = None,
    email: EmailOpt = None,
    sms: SmsOpt = None,
    voice: VoiceOpt = None,
    notification_center: NotificationCenterOpt = False,
    lang: LangOpt = "zh",
    allow_any_url: AllowAnyUrlOpt = False,
    risky_programs: RiskyOpt = None,
    add_risky: AddRiskyOpt = False,
    exclude: ExcludeOpt = None,
    adopt: AdoptOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Create (or bring up to date) the webhooks, the two templates, the users and groups for email,
    SMS and voice calls, the action policies and the two alert rules of ACK's audit guide: someone
    entered a container (Report), a risky program ran (Medium).

    Objects that already match are left alone: a second run changes nothing. Without a channel option,
    the channels an earlier setup configured are kept, and so are the risky list and exclusions; with
    one, the channels given replace them (a webhook, user or group nothing uses any more is deleted).
    The webhooks, templates and users belong to the account and are shared by every cluster's alerts;
    the user groups, action policies and rules belong to this cluster.

    Objects with the same ids that ackaudit did not make (the guide's webhook and templates created
    by hand in the console) are not taken over: setup names them and exits 2 before changing
    anything, unless --adopt.
    """
    from ackaudit.services.alerting import setup as run_setup

    channels = _channels(allow_any_url, dingtalk_url=dingtalk_url, dingtalk_secret=dingtalk_secret,
                         wecom_url=wecom_url, lark_url=lark_url, lark_secret=lark_secret, slack_url=slack_url,
                         webhook_url=webhook_url)
    recipients = _recipients(email, sms, voice, notification_center)
    custom = _custom(risky_programs, add_risky, exclude)
    result = run_setup(_context(cluster), channels, lang, dry_run=dry_run, custom=custom, recipients=recipients,
                       adopt=adopt)
    _output.emit(result.to_json(), human=lambda _: _render_setup(result))


@command(app, "plan", examples=["ackaudit alerts plan --cluster cab2c17507494d8cdae1b9324d1d83793",
                                "ackaudit alerts plan --cluster cab2c17507494d8cdae1b9324d1d83793 --dingtalk-url 'https://oapi.dingtalk.com/robot/send?access_token=6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8' --lang en"])
def plan(
    cluster: ClusterOpt,
    dingtalk_url: DingTalkUrlOpt = None,
    dingtalk_secret: DingTalkSecretOpt = None,
    wecom_url: WeComUrlOpt = None,
    lark_url: LarkUrlOpt = None,
    lark_secret: LarkSecretOpt = None,
    slack_url: SlackUrlOpt = None,
    webhook_url: WebhookUrlOpt = None,
    email: EmailOpt = None,
    sms: SmsOpt = None,
    voice: VoiceOpt = None,
    notification_center: NotificationCenterOpt = False,
    lang: LangOpt = "zh",
    allow_any_url: AllowAnyUrlOpt = False,
    risky_programs: RiskyOpt = None,
    add_risky: AddRiskyOpt = False,
    exclude: ExcludeOpt = None,
    adopt: AdoptOpt = False,
) -> None:
    """Show what `alerts setup` would create or change, without changing anything (as setup --dry-run);
    for a rule's query, the terms it would remove (-) and add (+). Objects ackaudit did not make are
    shown as "hand-made: would be adopted with --adopt"."""
    from ackaudit.services.alerting import setup as run_setup

    channels = _channels(allow_any_url, dingtalk_url=dingtalk_url, dingtalk_secret=dingtalk_secret,
                         wecom_url=wecom_url, lark_url=lark_url, lark_secret=lark_secret, slack_url=slack_url,
                         webhook_url=webhook_url)
    recipients = _recipients(email, sms, voice, notification_center)
    custom = _custom(risky_programs, add_risky, exclude)
    result = run_setup(_context(cluster), channels, lang, dry_run=True, custom=custom, recipients=recipients,
                       adopt=adopt)
    _output.emit(result.to_json(), human=lambda _: _render_setup(result))


@command(app, "status", examples=["ackaudit alerts status --cluster cab2c17507494d8cdae1b9324d1d83793"])
def status(cluster: ClusterOpt) -> None:
    """Show each alerting object (present, missing or drifted), whether the rules are enabled, and when
    each was last modified. Exits 5 when something is missing."""
    from ackaudit.errors import PreconditionError
    from ackaudit.services.alerting import status as run_status

    result = run_status(_context(cluster))
    _output.emit(result.to_json(), rows=[o.to_json() for o in result.objects],
                 human=lambda _: _render_status(result))
    if result.missing:
        raise PreconditionError(f"{len(result.missing)} alerting objects are missing",
                                hint=f"create them with `ackaudit alerts setup --cluster {cluster} --dingtalk-url URL`")
    if result.drifted:
        _output.warn(f"{len(result.drifted)} objects differ from the bundled definitions; "
                     f"`ackaudit alerts plan --cluster {cluster}` shows how, `alerts setup` repairs them")


E2EOpt = Annotated[bool, typer.Option(
    "--e2e", help="Prove the whole path instead: exec a harmless canary in a pod, then wait until the audit "
                  "event, both rules firing and their notifications show up, with each step's latency.")]
PodOpt = Annotated[str | None, typer.Option(
    "--pod", metavar="NAMESPACE/NAME", show_default=False,
    help="With --e2e: the pod to run the canary in (default: the first running pod outside kube-system).")]


def _finite_seconds(value: float) -> float:
    import math

    if not math.isfinite(value):        # nan passes min=1, and neither would ever be reached
        raise typer.BadParameter(f"{value} is not a number of seconds")
    return value


TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=1, callback=_finite_seconds, help="With --e2e: seconds to wait for the audit event and the rules (they run every minute).")]


@command(app, "test", examples=["ackaudit alerts test --cluster cab2c17507494d8cdae1b9324d1d83793",
                                "ackaudit alerts test --cluster cab2c17507494d8cdae1b9324d1d83793 --dingtalk-url 'https://oapi.dingtalk.com/robot/send?access_token=6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8' "
                                "--dingtalk-secret SEC0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
                                "ackaudit alerts test --cluster cab2c17507494d8cdae1b9324d1d83793 --e2e --pod payments/payments-api-hpsrdhdvdm-6mqbh"])
def test(
    cluster: ClusterOpt,
    dingtalk_url: DingTalkUrlOpt = None,
    dingtalk_secret: DingTalkSecretOpt = None,
    wecom_url: WeComUrlOpt = None,
    lark_url: LarkUrlOpt = None,
    lark_secret: LarkSecretOpt = None,
    slack_url: SlackUrlOpt = None,
    webhook_url: WebhookUrlOpt = None,
    lang: LangOpt = "zh",
    allow_any_url: AllowAnyUrlOpt = False,
    e2e: E2EOpt = False,
    pod: PodOpt = None,
    timeout: TimeoutOpt = 180.0,
) -> None:
    """Send one test notification straight to the configured webhooks (or to the one given) and show
    each robot's answer. Exits 1 when a robot refuses it (a bad signature, a missing keyword...).
    Email, SMS, voice calls and the Notification Center are sent by SLS itself: --e2e proves them.

    With --e2e, test the real thing: a canary exec (`touch a.txt && rm a.txt` in a directory of its
    own under /tmp), its audit event, both rules firing for it (read from the SLS alert history, matched
    by the canary's traceId) and their notifications. Exits 1 naming the first broken link."""
    from ackaudit.errors import AckAuditError
    from ackaudit.services.alerting import send_test

    if e2e:
        return _run_e2e(cluster, pod, timeout)
    if pod is not None:
        raise UsageError("--pod goes with --e2e", hint="add --e2e to run the canary in that pod")

    channels = _channels(allow_any_url, dingtalk_url=dingtalk_url, dingtalk_secret=dingtalk_secret,
                         wecom_url=wecom_url, lark_url=lark_url, lark_secret=lark_secret, slack_url=slack_url,
                         webhook_url=webhook_url)
    session = cloud()
    # In the sandbox the robots are emulated by the sandbox itself, at its own address.
    deliver_to = session.sls_endpoint.url if session.is_sandbox else None
    result = send_test(_context(cluster), channels, lang, deliver_to=deliver_to)
    _output.emit(result.to_json(), rows=[d.to_json() for d in result.deliveries],
                 human=lambda _: _render_test(result))
    failed = [d for d in result.deliveries if not d.ok]
    if failed:
        first = failed[0]
        code = f"{first.code}: " if first.code else ""
        raise AckAuditError(f"{_who(first.channel)} refused the test message: {code}{first.message}",
                            hint=_refusal_hint(first))


def _run_e2e(cluster: str, pod: str | None, timeout: float) -> None:
    from ackaudit.errors import AckAuditError
    from ackaudit.services.alert_e2e import run
    from ackaudit.services.waiting import poll_interval

    with _output.progress("testing the alert path end to end") as update:
        result = run(_context(cluster), pod=pod, timeout=timeout, poll=min(max(poll_interval(), 0.25), 5.0), progress=update)
    _output.emit(result.to_json(), rows=[s.to_json() for s in result.steps], human=lambda _: _render_e2e(result))
    broken = result.broken
    if broken is not None:
        raise AckAuditError(f"{broken.name}: {broken.detail}", hint=broken.hint)


@command(app, "history", examples=["ackaudit alerts history --cluster cab2c17507494d8cdae1b9324d1d83793",
                                   "ackaudit alerts history --cluster cab2c17507494d8cdae1b9324d1d83793 --since 7d -o json"])
def history(cluster: ClusterOpt, since: SinceOpt = None) -> None:
    """What this cluster's alert rules did: each evaluation in the SLS alert history, whether it fired,
    how many results it had, and whether its notification went out (default: the last 24 hours)."""
    import time

    from ackaudit.audit.timeparse import window
    from ackaudit.services.alert_history import read

    start, end = window(since=since, from_=None, to=None, default="24h", now=time.time())
    result = read(_context(cluster), start, end + 1)
    _output.emit(result.to_json(), rows=[e.to_json() for e in result.evaluations],
                 human=lambda _: _render_history(result))


RemoveAdoptOpt = Annotated[bool, typer.Option(
    "--adopt", help="Also delete the objects with ackaudit's ids that ackaudit did not make (the guide's "
                    "webhook and templates made by hand); without it they are named and nothing changes.")]


@command(app, "remove", examples=["ackaudit alerts remove --cluster cab2c17507494d8cdae1b9324d1d83793 --dry-run",
                                  "ackaudit alerts remove --cluster cab2c17507494d8cdae1b9324d1d83793 --yes"])
def remove(cluster: ClusterOpt, yes: YesOpt = False, dry_run: DryRunOpt = False, adopt: RemoveAdoptOpt = False) -> None:
    """Remove the alert rules, action policies and user groups of this cluster, and the templates,
    webhooks and users ackaudit created unless something else still uses them.

    Objects with those ids that ackaudit did not make are not deleted: remove names them and exits 2
    before deleting anything, unless --adopt (then they are deleted too)."""
    from ackaudit.errors import UsageError
    from ackaudit.services.alerting import named, plan_removal
    from ackaudit.services.alerting import remove as run_remove

    ctx = _context(cluster)
    result = plan_removal(ctx, adopt=adopt)
    if not dry_run:
        if result.hand_made:
            raise UsageError(f"not made by ackaudit: {named(result.hand_made)}; remove deletes them only with --adopt",
                             hint=f"`ackaudit alerts remove --cluster {cluster} --dry-run` shows the rest; add --adopt "
                                  "to delete them too (also when an interrupted ackaudit run left them)")
        if result.to_delete:
            names = ", ".join(o.id for o in result.to_delete if o.kind == "alert_rule") or "no rules"
            _output.confirm(f"Remove {len(result.to_delete)} alerting objects ({names})?", yes=yes)
        result = run_remove(ctx, result)
    _output.emit(result.to_json(), rows=[o.to_json() for o in result.objects],
                 human=lambda _: _render_remove(result))


# -- rendering ----------------------------------------------------------------------------------

_KIND_LABELS = {"webhook": "webhook", "template": "template", "user": "user", "user_group": "user group",
                "action_policy": "action policy", "alert_rule": "alert rule"}


def _channel_text(c: dict[str, Any]) -> str:
    if c["type"] == "message_center":
        return "Notification Center (the account's contacts)"
    if "address" in c:
        return f"{c['type']} {c['address']}"
    return f"{c['type']} {c['url']}{' (signed)' if c.get('signed') else ''}"


def _rows(objects: list[Any]) -> list[dict[str, Any]]:
    return [{**o.to_json(), "kind": _KIND_LABELS[o.kind], "changes": ", ".join(o.changes),
             "enabled": "" if o.enabled is None else ("yes" if o.enabled else "no")} for o in objects]


def _render_setup(result: Any) -> None:
    from ackaudit.cli._output import Column

    _output.info(f"channels: {', '.join(_channel_text(c) for c in result.channels)}")
    _output.table(_rows(result.objects), [Column("kind", "KIND"), Column("id", "ID"),
                                          Column("action", "ACTION"), Column("changes", "CHANGES")])
    for o in result.objects:
        if o.note and o.action != "unchanged":
            _output.info(f"{o.id}: {o.note}")
    counts = {a: sum(o.action == a for o in result.objects) for a in ("create", "update", "adopt", "delete")}
    extra = "".join(f", {counts[a]} {word}" for a, word in (("adopt", "hand-made"), ("delete", "no longer used"))
                    if counts[a])
    if not result.changed:
        _output.success("unchanged: everything already matches")
    elif result.dry_run:
        _output.info(f"plan (nothing changed): {counts['create']} to create, {counts['update']} to update{extra}")
        if counts["adopt"]:
            _output.warn(f"{counts['adopt']} objects were not made by ackaudit: setup takes them over only with --adopt")
    else:
        done = ", ".join(f"{counts[a]} {word}" for a, word in (("create", "created"), ("update", "updated"),
                                                               ("adopt", "adopted"), ("delete", "deleted"))
                         if counts[a] or a in ("create", "update"))
        _output.success(f"alerting set up for {result.cluster_id}: {done}")


def _render_status(result: Any) -> None:
    from ackaudit.cli._output import Column

    if result.channels:
        _output.info("channels: " + ", ".join(_channel_text({**c, "signed": False}) for c in result.channels))
    _output.table(_rows(result.objects), [Column("kind", "KIND"), Column("id", "ID"), Column("action", "STATE"),
                                          Column("enabled", "ENABLED"), Column("last_modified", "LAST MODIFIED"),
                                          Column("changes", "CHANGES")])
    for o in result.objects:
        if o.note:
            _output.info(f"{o.id}: {o.note}")


def _render_test(result: Any) -> None:
    from ackaudit.cli._output import Column

    rows = [{**d.to_json(), "result": "delivered" if d.ok else "refused",
             "answer": f"{d.code}: {d.message}" if d.code else d.message} for d in result.deliveries]
    _output.table(rows, [Column("channel", "CHANNEL"), Column("url", "URL"), Column("result", "RESULT"),
                         Column("answer", "ANSWER")])
    if result.sent_by_sls:
        from ackaudit.services.alert_people import labels

        _output.info(f"{labels(result.sent_by_sls)}: sent by SLS itself, not by this test; "
                     f"`ackaudit alerts test --cluster {result.cluster_id} --e2e` proves them")
    if result.ok:
        _output.success("test notification delivered")


def _who(channel: str) -> str:
    from ackaudit.services.alert_channels import CHANNEL_TYPES

    return "the generic webhook" if channel == "webhook" else f"the {CHANNEL_TYPES[channel].label} robot"


def _refusal_hint(delivery: Any) -> str:
    if delivery.channel == "dingtalk" and delivery.code == "310000":
        return ("check the robot's security settings: the signing secret (--dingtalk-secret), the keyword "
                "(notifications contain \"Kubernetes\"), or the IP allow-list")
    return "check the URL and the robot's security settings, then rerun alerts setup with the right values"


def _render_e2e(result: Any) -> None:
    from ackaudit.cli._output import Column

    rows = [{**s.to_json(), "result": "ok" if s.ok else "FAILED",
             "latency": "" if s.seconds is None else f"{s.seconds:.1f}s"} for s in result.steps]
    _output.info(f"canary in {result.pod}" + (f", traceId {result.trace_id}" if result.trace_id else ""))
    _output.table(rows, [Column("name", "STEP"), Column("result", "RESULT"), Column("latency", "AFTER EXEC"),
                         Column("detail", "DETAIL")])
    if result.ok:
        _output.success("the alert path works: both rules fired for the canary and notified")


def _render_history(result: Any) -> None:
    from ackaudit.cli._output import Column

    if result.note:
        _output.info(result.note)
    rows = [{**e.to_json(), "fired": "yes" if e.fired else "no"} for e in result.evaluations]
    _output.table(rows, [Column("time", "TIME"), Column("rule", "RULE"), Column("fired", "FIRED"),
                         Column("results", "RESULTS"), Column("notify_status", "NOTIFICATION"),
                         Column("reason", "REASON")])
    _output.info(f"{sum(e.fired for e in result.evaluations)} firings in {len(result.evaluations)} evaluations "
                 f"({result.project}/{result.logstore})")


def _render_remove(result: Any) -> None:
    from ackaudit.cli._output import Column

    if not result.objects:
        _output.success(f"nothing to remove for {result.cluster_id}")
        return
    _output.table(_rows(result.objects), [Column("kind", "KIND"), Column("id", "ID"), Column("action", "ACTION"),
                                          Column("note", "NOTE")])
    deleted = len(result.to_delete)
    if result.dry_run:
        _output.info(f"plan (nothing changed): {deleted} to delete")
        if result.hand_made:
            _output.warn(f"{len(result.hand_made)} objects were not made by ackaudit: remove deletes them only "
                         "with --adopt")
    elif deleted:
        _output.success(f"removed {deleted} alerting objects")
