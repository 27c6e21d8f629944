"""`ackaudit alerts ...`: alerting provisioned from bundled definitions."""

from typing import Annotated, Any

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, DryRunOpt, YesOpt
from ackaudit.errors import shown

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


def _context(cluster: str) -> Any:
    from ackaudit.services.cluster import ClusterContext

    return ClusterContext(cloud(), cluster)


@command(app, "setup", examples=[
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793 "
    "--dingtalk-url 'https://oapi.dingtalk.com/robot/send?access_token=6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8' --dingtalk-secret SEC0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793 --slack-url https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX --lang en",
    "ackaudit alerts setup --cluster cab2c17507494d8cdae1b9324d1d83793          # again: the channels already configured are kept"])
def setup(
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
    dry_run: DryRunOpt = False,
) -> None:
    """Create (or bring up to date) the webhook, the two templates, the action policies and the two alert
    rules of ACK's audit guide: someone entered a container (Report), a risky program ran (Medium).

    Objects that already match are left alone: a second run changes nothing. Without a channel option,
    the channels an earlier setup configured are kept. The webhooks and templates belong to the account
    and are shared by every cluster's alerts; the action policies and rules belong to this cluster.
    """
    from ackaudit.services.alerting import setup as run_setup

    channels = _channels(allow_any_url, dingtalk_url=dingtalk_url, dingtalk_secret=dingtalk_secret,
                         wecom_url=wecom_url, lark_url=lark_url, lark_secret=lark_secret, slack_url=slack_url,
                         webhook_url=webhook_url)
    result = run_setup(_context(cluster), channels, lang, dry_run=dry_run)
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
    lang: LangOpt = "zh",
    allow_any_url: AllowAnyUrlOpt = False,
) -> None:
    """Show what `alerts setup` would create or change, without changing anything (as setup --dry-run)."""
    from ackaudit.services.alerting import setup as run_setup

    channels = _channels(allow_any_url, dingtalk_url=dingtalk_url, dingtalk_secret=dingtalk_secret,
                         wecom_url=wecom_url, lark_url=lark_url, lark_secret=lark_secret, slack_url=slack_url,
                         webhook_url=webhook_url)
    result = run_setup(_context(cluster), channels, lang, dry_run=True)
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


@command(app, "test", examples=["ackaudit alerts test --cluster cab2c17507494d8cdae1b9324d1d83793",
                                "ackaudit alerts test --cluster cab2c17507494d8cdae1b9324d1d83793 --dingtalk-url 'https://oapi.dingtalk.com/robot/send?access_token=6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8' "
                                "--dingtalk-secret SEC0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"])
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
) -> None:
    """Send one test notification straight to the configured webhooks (or to the one given) and show
    each robot's answer. Exits 1 when a robot refuses it (a bad signature, a missing keyword...)."""
    from ackaudit.errors import AckAuditError
    from ackaudit.services.alerting import send_test

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
        raise AckAuditError(f"the {first.channel} webhook refused the test message: {code}{first.message}",
                            hint=_refusal_hint(first))


@command(app, "remove", examples=["ackaudit alerts remove --cluster cab2c17507494d8cdae1b9324d1d83793 --yes",
                                  "ackaudit alerts remove --cluster cab2c17507494d8cdae1b9324d1d83793 --dry-run"])
def remove(cluster: ClusterOpt, yes: YesOpt = False, dry_run: DryRunOpt = False) -> None:
    """Remove the alert rules and action policies of this cluster, and the templates and webhooks ackaudit
    created unless another action policy still uses them."""
    from ackaudit.services.alerting import plan_removal
    from ackaudit.services.alerting import remove as run_remove

    ctx = _context(cluster)
    result = plan_removal(ctx)
    if not dry_run:
        if result.to_delete:
            names = ", ".join(o.id for o in result.to_delete if o.kind == "alert_rule") or "no rules"
            _output.confirm(f"Remove {len(result.to_delete)} alerting objects ({names})?", yes=yes)
        result = run_remove(ctx, result)
    _output.emit(result.to_json(), rows=[o.to_json() for o in result.objects],
                 human=lambda _: _render_remove(result))


# -- rendering ----------------------------------------------------------------------------------

_KIND_LABELS = {"webhook": "webhook", "template": "template", "action_policy": "action policy",
                "alert_rule": "alert rule"}


def _rows(objects: list[Any]) -> list[dict[str, Any]]:
    return [{**o.to_json(), "kind": _KIND_LABELS[o.kind], "changes": ", ".join(o.changes),
             "enabled": "" if o.enabled is None else ("yes" if o.enabled else "no")} for o in objects]


def _render_setup(result: Any) -> None:
    from ackaudit.cli._output import Column

    channels = ", ".join(f"{c['type']} {c['url']}{' (signed)' if c['signed'] else ''}" for c in result.channels)
    _output.info(f"channels: {channels}")
    _output.table(_rows(result.objects), [Column("kind", "KIND"), Column("id", "ID"),
                                          Column("action", "ACTION"), Column("changes", "CHANGES")])
    counts = {a: sum(o.action == a for o in result.objects) for a in ("create", "update")}
    if not result.changed:
        _output.success("unchanged: everything already matches")
    elif result.dry_run:
        _output.info(f"plan (nothing changed): {counts['create']} to create, {counts['update']} to update")
    else:
        _output.success(f"alerting set up for {result.cluster_id}: {counts['create']} created, "
                        f"{counts['update']} updated")


def _render_status(result: Any) -> None:
    from ackaudit.cli._output import Column

    if result.channels:
        _output.info("channels: " + ", ".join(f"{c['type']} {c['url']}" for c in result.channels))
    _output.table(_rows(result.objects), [Column("kind", "KIND"), Column("id", "ID"), Column("action", "STATE"),
                                          Column("enabled", "ENABLED"), Column("last_modified", "LAST MODIFIED"),
                                          Column("changes", "CHANGES")])


def _render_test(result: Any) -> None:
    from ackaudit.cli._output import Column

    rows = [{**d.to_json(), "result": "delivered" if d.ok else "refused",
             "answer": f"{d.code}: {d.message}" if d.code else d.message} for d in result.deliveries]
    _output.table(rows, [Column("channel", "CHANNEL"), Column("url", "URL"), Column("result", "RESULT"),
                         Column("answer", "ANSWER")])
    if result.ok:
        _output.success("test notification delivered")


def _refusal_hint(delivery: Any) -> str:
    if delivery.channel == "dingtalk" and delivery.code == "310000":
        return ("check the robot's security settings: the signing secret (--dingtalk-secret), the keyword "
                "(notifications contain \"Kubernetes\"), or the IP allow-list")
    return "check the URL and the robot's security settings, then rerun alerts setup with the right values"


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
    elif deleted:
        _output.success(f"removed {deleted} alerting objects")
