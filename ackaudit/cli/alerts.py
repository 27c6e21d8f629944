"""`ackaudit alerts ...`: alerting provisioned from bundled definitions."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, DryRunOpt, YesOpt
from ackaudit.cli._pending import not_yet

app = typer.Typer(help="Provision, check, test and remove the audit alert rules and their webhook.",
                  no_args_is_help=True, rich_markup_mode=None)

LangOpt = Annotated[str, typer.Option("--lang", help="Language of the notification templates: zh or en.")]


@command(app, "setup", examples=["ackaudit alerts setup --cluster c1234 --dingtalk-url 'https://oapi.dingtalk.com/robot/send?access_token=...'",
                                 "ackaudit alerts setup --cluster c1234 --slack-url https://hooks.slack.com/services/... --lang en"])
def setup(
    cluster: ClusterOpt,
    dingtalk_url: Annotated[str | None, typer.Option("--dingtalk-url", help="DingTalk robot webhook URL.",
                                                     show_default=False)] = None,
    dingtalk_secret: Annotated[str | None, typer.Option("--dingtalk-secret", help="DingTalk signing secret.",
                                                        show_default=False)] = None,
    wecom_url: Annotated[str | None, typer.Option("--wecom-url", help="WeCom group robot webhook URL.",
                                                  show_default=False)] = None,
    lark_url: Annotated[str | None, typer.Option("--lark-url", help="Lark/Feishu bot webhook URL.",
                                                 show_default=False)] = None,
    slack_url: Annotated[str | None, typer.Option("--slack-url", help="Slack incoming webhook URL.",
                                                  show_default=False)] = None,
    webhook_url: Annotated[str | None, typer.Option("--webhook-url", help="Generic webhook URL.",
                                                    show_default=False)] = None,
    lang: LangOpt = "zh",
    dry_run: DryRunOpt = False,
) -> None:
    """Create (or bring up to date) the webhook, the templates and the two alert rules."""
    not_yet("alerts setup")


@command(app, "plan", examples=["ackaudit alerts plan --cluster c1234 --dingtalk-url URL"])
def plan(cluster: ClusterOpt,
         dingtalk_url: Annotated[str | None, typer.Option("--dingtalk-url", help="DingTalk robot webhook URL.",
                                                          show_default=False)] = None) -> None:
    """Show what `alerts setup` would create or change, without changing anything."""
    not_yet("alerts plan")


@command(app, "status", examples=["ackaudit alerts status --cluster c1234"])
def status(cluster: ClusterOpt) -> None:
    """Show the alert rules ackaudit provisioned and whether they are enabled."""
    not_yet("alerts status")


@command(app, "test", examples=["ackaudit alerts test --cluster c1234"])
def test(cluster: ClusterOpt) -> None:
    """Send a test notification through the configured webhook."""
    not_yet("alerts test")


@command(app, "remove", examples=["ackaudit alerts remove --cluster c1234 --yes"])
def remove(cluster: ClusterOpt, yes: YesOpt = False, dry_run: DryRunOpt = False) -> None:
    """Remove the alert rules, templates and webhook that ackaudit created."""
    not_yet("alerts remove")
