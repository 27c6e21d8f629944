"""`ackaudit session`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import OptionalClusterOpt, SinceOpt, SourceOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "session", examples=["ackaudit session 9f1c2b7d4e --cluster c1234", "ackaudit session 9f1c2b7d4e --cluster c1234 --format markdown"])
    def session(
        ident: Annotated[str, typer.Argument(metavar="TRACE_ID", help="The traceId of the session.", show_default=False)],
        cluster: OptionalClusterOpt = None,
        since: SinceOpt = None,
        source: SourceOpt = None,
        format_: Annotated[str | None, typer.Option("--format", help="markdown: a report to paste into a ticket.",
                                                    show_default=False)] = None,
    ) -> None:
        """Show one exec session: who, when, where, every command in order, and the process tree."""
        not_yet("session")
