"""`ackaudit retention`."""

from typing import Annotated

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, ContextOpt, KubeconfigOpt, YesOpt


def register(app: typer.Typer) -> None:
    @command(app, "retention", examples=["ackaudit retention --cluster cab2c17507494d8cdae1b9324d1d83793",
                                         "ackaudit retention --cluster cab2c17507494d8cdae1b9324d1d83793 --days 365 --hot-days 30",
                                         "ackaudit retention --cluster cab2c17507494d8cdae1b9324d1d83793 --days permanent"])
    def retention(
        cluster: ClusterOpt,
        days: Annotated[str | None, typer.Option("--days", help="Keep events this many days (1-3650, or "
                                                 "'permanent').", show_default=False)] = None,
        hot_days: Annotated[int | None, typer.Option("--hot-days", min=1, max=3650,
                                                     help="Days in the hot storage tier.",
                                                     show_default=False)] = None,
        yes: YesOpt = False,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Show or change how long the audit logstore keeps events (everything else is kept as it is)."""
        from ackaudit.services import retention as svc
        from ackaudit.services.cluster import ClusterContext

        wanted_days = svc.parse_days(days) if days is not None else None
        ctx = ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context)
        if wanted_days is None and hot_days is None:
            current = svc.show(ctx)
            _output.emit(current.to_json(), human=lambda _: _render(current))
            return
        change, config = svc.plan(ctx, wanted_days, hot_days)
        if change.shortens:
            _output.warn(f"shortening retention from {change.before.ttl} to {change.after.ttl} days deletes "
                         f"events older than {change.after.ttl} days within the hour")
            _output.confirm("Shorten retention?", yes=yes)
        svc.apply(ctx, change, config)
        _output.emit(change.to_json(), human=lambda _: _render_change(change))


def _days(ttl: int | None) -> str:
    if ttl is None:
        return "not set"
    return "permanent" if ttl >= 3650 else f"{ttl} days"


def _render(current) -> None:
    _output.kv_block([("project", current.project), ("logstore", current.logstore),
                      ("retention", _days(current.ttl)), ("hot storage", _days(current.hot_ttl))])


def _render_change(change) -> None:
    if not change.changed:
        _output.success(f"retention unchanged: {_days(change.after.ttl)}, hot storage {_days(change.after.hot_ttl)}")
        return
    hot = (f"hot storage {_days(change.after.hot_ttl)}" if change.before.hot_ttl == change.after.hot_ttl
           else f"hot storage {_days(change.before.hot_ttl)} -> {_days(change.after.hot_ttl)}")
    _output.success(f"retention of {change.after.logstore}: {_days(change.before.ttl)} -> {_days(change.after.ttl)}; "
                    f"{hot}")
