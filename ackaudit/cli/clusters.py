"""`ackaudit clusters`: the fleet view."""

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import AllowPartialOpt
from ackaudit.cli._output import Column

COLUMNS = [
    Column("cluster_id", "CLUSTER ID", no_wrap=True),
    Column("name", "NAME"),
    Column("kind", "TYPE"),
    Column("version", "VERSION"),
    Column("state", "STATE"),
    Column("audit", "AUDIT"),
    Column("reason", "NOTE", style="dim"),
]


def register(app: typer.Typer) -> None:
    @command(app, "clusters", examples=["ackaudit clusters --region cn-hangzhou",
                                        "ackaudit --sandbox clusters -o json"])
    def clusters(allow_partial: AllowPartialOpt = False) -> None:
        """List the clusters of a region with their audit status.

        A cluster whose addons or node pools cannot be read shows as unknown, with a warning, and
        the command exits 1 (4 if the read was refused) unless --allow-partial.
        """
        from ackaudit.services.fleet import list_clusters

        fleet = list_clusters(cloud())
        data = [r.to_json() for r in fleet.clusters]
        table_rows = [{**d, "kind": _kind(d), "audit": _audit(d)} for d in data]
        _output.emit(data, human=lambda _: _output.table(table_rows, COLUMNS, empty="no clusters in this region"))
        _output.finish_partial(fleet.gaps, allow_partial, what="the list of clusters")


def _kind(row: dict) -> str:
    from ackaudit.audit.eligibility import cluster_type_name

    return cluster_type_name(row)


def _audit(row: dict) -> str:
    if row["audit_status"] == "enabled" and row.get("audit_version"):
        return f"enabled {row['audit_version']}"
    return row["audit_status"]
