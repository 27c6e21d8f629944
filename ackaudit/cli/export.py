"""`ackaudit export`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, FromOpt, SinceOpt, ToOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "export", examples=["ackaudit export --cluster c1234 --since 30d --out audit.jsonl",
                                      "ackaudit export --cluster c1234 --from 2026-11-01 --out nov.parquet"])
    def export(
        cluster: ClusterOpt,
        out: Annotated[str, typer.Option("--out", help="File to write: .jsonl, .csv or .parquet.",
                                         show_default=False)],
        since: SinceOpt = None,
        from_: FromOpt = None,
        to: ToOpt = None,
    ) -> None:
        """Export audit events to a file for archiving and offline analysis (--source)."""
        not_yet("export")
