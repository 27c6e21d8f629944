"""`ackaudit retention`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, YesOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "retention", examples=["ackaudit retention --cluster c1234567890abcdef",
                                         "ackaudit retention --cluster c1234 --days 90 --hot-days 30",
                                         "ackaudit retention --cluster c1234 --days permanent"])
    def retention(
        cluster: ClusterOpt,
        days: Annotated[str | None, typer.Option("--days", help="Keep events this many days (1-3650, or "
                                                 "'permanent').", show_default=False)] = None,
        hot_days: Annotated[int | None, typer.Option("--hot-days", min=1, max=3650,
                                                     help="Days in the hot storage tier.",
                                                     show_default=False)] = None,
        yes: YesOpt = False,
    ) -> None:
        """Show or change how long the audit logstore keeps events."""
        not_yet("retention")
