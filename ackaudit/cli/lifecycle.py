"""`ackaudit enable` and `ackaudit disable`."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import (
    ClusterOpt,
    ContextOpt,
    DryRunOpt,
    KubeconfigOpt,
    NoWaitOpt,
    TimeoutOpt,
    YesOpt,
)


def register(app: typer.Typer) -> None:
    @command(app, "enable", examples=["ackaudit enable --cluster ca8f76e5f6f08086c69e95897faba0ff7 --retention 90 --dry-run",
                                      "ackaudit enable --cluster ca8f76e5f6f08086c69e95897faba0ff7"])
    def enable(
        cluster: ClusterOpt,
        retention: Annotated[int | None, typer.Option("--retention", min=1, max=3650,
                                                      help="Also set the logstore retention (days).",
                                                      show_default=False)] = None,
        force: Annotated[bool, typer.Option("--force", help="Try even if the preflight checks fail.")] = False,
        dry_run: DryRunOpt = False,
        no_wait: NoWaitOpt = False,
        timeout: TimeoutOpt = 600,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Install the log component and ack-advanced-audit, wait, and verify the logstore and its index."""
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.lifecycle import enable as run_enable

        ctx = ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context)
        with _output.progress(f"enabling audit on {cluster}") as update, _goes_on(cluster, "installation", dry_run):
            result = run_enable(ctx, retention_days=retention, force=force, dry_run=dry_run, wait=not no_wait,
                                timeout=timeout, on_progress=update)
        _output.emit(result.to_json(), human=lambda _: _render_enable(result))

    @command(app, "disable", examples=["ackaudit disable --cluster cab2c17507494d8cdae1b9324d1d83793 --dry-run",
                                       "ackaudit disable --cluster cab2c17507494d8cdae1b9324d1d83793",
                                       "ackaudit disable --cluster cab2c17507494d8cdae1b9324d1d83793 --purge-logstore --yes"])
    def disable(
        cluster: ClusterOpt,
        purge_logstore: Annotated[bool, typer.Option("--purge-logstore",
                                                     help="Also delete the logstore and its data.")] = False,
        remove_alerts: Annotated[bool, typer.Option("--remove-alerts",
                                                    help="Also remove the alert rules ackaudit created (and "
                                                    "their policies, templates and webhooks, unless another "
                                                    "cluster's alerts use them).")] = False,
        yes: YesOpt = False,
        dry_run: DryRunOpt = False,
        no_wait: NoWaitOpt = False,
        timeout: TimeoutOpt = 600,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
        allow_partial: Annotated[bool, typer.Option(
            "--allow-partial", help="With --purge-logstore: go on (after the confirmation) even if SLS could "
            "not finish counting the events that would be lost.")] = False,
    ) -> None:
        """Uninstall ack-advanced-audit. The logstore and its data stay (and are billed) unless --purge-logstore."""
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.lifecycle import disable as run_disable
        from ackaudit.services.lifecycle import purge_impact

        ctx = ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context)
        ctx.ensure_exists()
        alerts = None
        if remove_alerts:
            from ackaudit.services.alerting import plan_removal

            alerts = plan_removal(ctx)
            if alerts.hand_made:
                from ackaudit.services.alerting import named

                _output.warn(f"keeping what ackaudit did not make: {named(alerts.hand_made)} "
                             f"(`ackaudit alerts remove --cluster {cluster} --adopt` deletes them)")
        if purge_logstore and not dry_run:
            impact = purge_impact(ctx)
            if impact.exists and not impact.complete and not allow_partial:
                from ackaudit.errors import CloudError

                raise CloudError(f"cannot count the events in {impact.project}/{impact.logstore}: SLS stayed "
                                 f"incomplete after retrying (at least {impact.events} events)",
                                 hint="retry in a moment, or pass --allow-partial to confirm against that lower bound")
            if impact.exists:
                count = f"{impact.events} events" if impact.complete else \
                    f"at least {impact.events} events (SLS could not finish counting)"
                _output.warn(f"deleting {impact.project}/{impact.logstore} loses {count}"
                             f"{_span(impact.oldest, impact.newest)}; this cannot be undone")
                _output.confirm(f"Delete logstore {impact.logstore}?", yes=yes, expect=impact.logstore)
        if alerts is not None and alerts.to_delete and not dry_run:
            names = ", ".join(state.id for state in alerts.to_delete)
            _output.confirm(f"Remove the alerting objects ackaudit created ({names})?", yes=yes)
        with _output.progress(f"disabling audit on {cluster}") as update, _goes_on(cluster, "uninstall", dry_run):
            result = run_disable(ctx, purge=purge_logstore, alerts=alerts, dry_run=dry_run,
                                 wait=not no_wait, timeout=timeout, on_progress=update)
        _output.emit(result.to_json(), human=lambda _: _render_disable(result))


@contextmanager
def _goes_on(cluster: str, what: str, dry_run: bool) -> Iterator[None]:
    """Ctrl-C stops ackaudit waiting, not the task ACK is running: say so, and how to watch it."""
    try:
        yield
    except KeyboardInterrupt:
        if dry_run:
            raise
        from ackaudit.errors import Interrupted

        raise Interrupted(f"interrupted: ackaudit stopped waiting, but an {what} already requested goes on in ACK",
                          hint=f"watch it with `ackaudit status --cluster {cluster}`") from None


def _span(oldest: int | None, newest: int | None) -> str:
    if oldest is None or newest is None:
        return ""

    def day(ts: int) -> str:
        from datetime import datetime, timezone

        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")

    return f" from {day(oldest)} to {day(newest)}"


def _render_enable(result) -> None:
    if result.dry_run:
        _output.info("plan (nothing changed):" if result.plan else "nothing to do")
        for step in result.plan:
            print(f"  - {step}")
        return
    if result.already_enabled:
        extra = "; retention updated" if result.retention_changed else "; nothing changed"
        _output.success(f"audit is already enabled on {result.cluster_id} ({result.addon_version}){extra}")
    elif result.state == "installing":
        _output.success(f"installation started (task {result.task_id}); "
                        f"check with `ackaudit status --cluster {result.cluster_id}`")
        return
    else:
        _output.success(f"audit enabled on {result.cluster_id} (ack-advanced-audit {result.addon_version})")
    _output.kv_block([("project", result.project), ("logstore", result.logstore),
                      ("retention", f"{result.ttl} days" if result.ttl else "unknown"),
                      ("hot storage", f"{result.hot_ttl} days" if result.hot_ttl else "-"),
                      ("index", result.index or "-")])


def _render_disable(result) -> None:
    if result.dry_run:
        _output.info("plan (nothing changed):" if result.plan else "nothing to do: audit is not enabled")
        for step in result.plan:
            print(f"  - {step}")
        return
    if result.already_disabled and not result.changed:
        _output.success(f"audit is already disabled on {result.cluster_id}; nothing changed")
    elif result.state == "uninstalling":
        _output.success(f"uninstall started (task {result.task_id})")
    else:
        _output.success(f"ack-advanced-audit uninstalled from {result.cluster_id}")
    for name in result.alerts_removed:
        _output.info(f"removed {name}")
    if result.purged:
        _output.info(f"deleted logstore {result.project}/{result.logstore}")
    elif result.logstore_kept:
        _output.warn(f"logstore {result.project}/{result.logstore} and its data remain and are still billed; "
                     f"delete them with `ackaudit disable --cluster {result.cluster_id} --purge-logstore`")
