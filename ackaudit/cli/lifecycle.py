"""`ackaudit enable` and `ackaudit disable`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, DryRunOpt, NoWaitOpt, TimeoutOpt, YesOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "enable", examples=["ackaudit enable --cluster c1234567890abcdef",
                                      "ackaudit enable --cluster c1234 --retention 90 --dry-run"])
    def enable(
        cluster: ClusterOpt,
        retention: Annotated[int | None, typer.Option("--retention", min=1, max=3650,
                                                      help="Also set the logstore retention (days).",
                                                      show_default=False)] = None,
        force: Annotated[bool, typer.Option("--force", help="Try even if the preflight checks fail.")] = False,
        dry_run: DryRunOpt = False,
        no_wait: NoWaitOpt = False,
        timeout: TimeoutOpt = 600,
    ) -> None:
        """Install the log component and ack-advanced-audit, wait, and verify the logstore."""
        not_yet("enable")

    @command(app, "disable", examples=["ackaudit disable --cluster c1234567890abcdef",
                                       "ackaudit disable --cluster c1234 --purge-logstore --yes"])
    def disable(
        cluster: ClusterOpt,
        purge_logstore: Annotated[bool, typer.Option("--purge-logstore",
                                                     help="Also delete the logstore and its data.")] = False,
        remove_alerts: Annotated[bool, typer.Option("--remove-alerts",
                                                    help="Also remove the alert rules ackaudit created.")] = False,
        yes: YesOpt = False,
        dry_run: DryRunOpt = False,
        no_wait: NoWaitOpt = False,
        timeout: TimeoutOpt = 600,
    ) -> None:
        """Uninstall ack-advanced-audit (the logstore and its data stay unless --purge-logstore)."""
        not_yet("disable")
