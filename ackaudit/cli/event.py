"""`ackaudit event`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import OptionalClusterOpt, SinceOpt, SourceOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "event", examples=["ackaudit event 7a3e91c0 --cluster c1234", "ackaudit event 7a3e91c0 --cluster c1234 -o json"])
    def event(
        ident: Annotated[str, typer.Argument(metavar="EVENT_ID", help="The eventId of the event.", show_default=False)],
        cluster: OptionalClusterOpt = None,
        since: SinceOpt = None,
        source: SourceOpt = None,
    ) -> None:
        """Show every field of one audit event, and the session it belongs to."""
        not_yet("event")
