"""Options shared by several commands, declared once."""

import re
from typing import Annotated

import typer

from ackaudit.errors import shown

_CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _check_cluster(value: str | None) -> str | None:
    if value is not None and not _CLUSTER_ID.fullmatch(value):
        raise typer.BadParameter(f"{shown(value)} is not a cluster id (letters, digits, - and _ only)")
    return value


ClusterOpt = Annotated[str, typer.Option(
    "--cluster", "-c", envvar="ACKAUDIT_CLUSTER", callback=_check_cluster, show_default=False,
    help="Cluster id (default: ACKAUDIT_CLUSTER).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Start the change and return without waiting.")]
TimeoutOpt = Annotated[int, typer.Option("--timeout", min=1, help="Seconds to wait for the change to finish.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Look back this far: 30m, 6h, 7d (default depends on the command).", show_default=False)]
FromOpt = Annotated[str | None, typer.Option(
    "--from", help="Start time: ISO 8601 or epoch seconds.", show_default=False)]
ToOpt = Annotated[str | None, typer.Option("--to", help="End time: ISO 8601 or epoch seconds.", show_default=False)]
SourceOpt = Annotated[str | None, typer.Option(
    "--source", help="Query an exported file (.jsonl/.csv/.parquet) instead of the cluster's logstore.",
    show_default=False)]
OptionalClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", "-c", envvar="ACKAUDIT_CLUSTER", callback=_check_cluster, show_default=False,
    help="Cluster id (default: ACKAUDIT_CLUSTER); not needed with --source.")]
KubeconfigOpt = Annotated[str | None, typer.Option(
    "--kubeconfig", help="Use this kubeconfig instead of fetching a temporary one from ACK.", show_default=False)]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Context of --kubeconfig to use.",
                                                show_default=False)]
AllowPartialOpt = Annotated[bool, typer.Option(
    "--allow-partial", help="Exit 0 even if part of the answer could not be read or SLS could not complete "
    "a search (each gap is still printed as a warning).")]
