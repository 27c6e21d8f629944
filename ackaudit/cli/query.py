"""`ackaudit query`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import FromOpt, OptionalClusterOpt, SinceOpt, SourceOpt, ToOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "query", examples=["ackaudit query --cluster c1234 --pod payments/api-7d9f",
                                     "ackaudit query --cluster c1234 --process rm --since 7d -o jsonl",
                                     "ackaudit query --cluster c1234 --risky --user 2766354627185913",
                                     "ackaudit query --cluster c1234 --follow"])
    def query(
        cluster: OptionalClusterOpt = None,
        pod: Annotated[str | None, typer.Option("--pod", help="Pod as ns/name (or name with --namespace).",
                                                show_default=False)] = None,
        namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace.",
                                                      show_default=False)] = None,
        process: Annotated[list[str] | None, typer.Option("--process", help="Program name (repeatable).",
                                                          show_default=False)] = None,
        user: Annotated[str | None, typer.Option("--user", help="Kubernetes username or Alibaba Cloud UID.",
                                                 show_default=False)] = None,
        risky: Annotated[bool, typer.Option("--risky", help="Only risky programs.")] = False,
        trace: Annotated[str | None, typer.Option("--trace", help="Only this session (traceId).",
                                                  show_default=False)] = None,
        where: Annotated[str | None, typer.Option("--where", help="A raw SLS search expression, AND-ed.",
                                                  show_default=False)] = None,
        since: SinceOpt = None,
        from_: FromOpt = None,
        to: ToOpt = None,
        limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many events (0 = all).")] = 100,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")] = False,
        source: SourceOpt = None,
    ) -> None:
        """Find audit events by pod, program, user and time."""
        not_yet("query")

