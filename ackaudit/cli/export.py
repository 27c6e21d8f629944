"""`ackaudit export`."""

import time
from typing import Annotated, Any

import typer

from ackaudit.cli import _events, _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import OutputFormat, command, settings
from ackaudit.cli._options import ClusterOpt, FromOpt, SinceOpt, ToOpt
from ackaudit.cli.query import NoRedactOpt

_PROGRESS_EVERY = 1.0    # seconds between progress lines, so millions of events print a few hundred


def register(app: typer.Typer) -> None:
    @command(app, "export", examples=["ackaudit export --cluster cab2c17507494d8cdae1b9324d1d83793 --since 30d --out audit.jsonl",
                                      "ackaudit export --cluster cab2c17507494d8cdae1b9324d1d83793 --from 2026-11-01 --out since-nov.parquet",
                                      "ackaudit query --source since-nov.parquet --process curl",
                                      "ackaudit session 24b1236b --source audit.jsonl"])
    def export(
        cluster: ClusterOpt,
        out: Annotated[str, typer.Option("--out", help="File to write: .jsonl, .csv or .parquet; - for stdout "
                                         "(with --format).", show_default=False)],
        since: SinceOpt = None,
        from_: FromOpt = None,
        to: ToOpt = None,
        format_: Annotated[str | None, typer.Option("--format", help="jsonl, csv or parquet (default: from the "
                                                    "extension of --out).", show_default=False)] = None,
        force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
        no_redact: NoRedactOpt = False,
    ) -> None:
        """Export every audit event of a window to a file, for archiving and offline analysis (--source).

        Exports the last 30 days unless --since or --from/--to say otherwise. Secrets in command lines
        are masked unless --no-redact is given.
        """
        from ackaudit.audit.risky import builtin_catalogue
        from ackaudit.audit.timeparse import iso, window
        from ackaudit.services.archive import export_logstore, format_of
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.files import output_target

        fmt = format_of(out, format_)
        target = output_target(out, force=force)
        _check_stdout(target, fmt)
        now = time.time()
        from_time, to_time = window(since=since, from_=from_, to=to, default="30d", now=now)
        ctx = ClusterContext(cloud(), cluster)
        project = ctx.project[0]
        if ctx.cloud.sls.get_logstore(project, ctx.logstore) is None:
            raise ctx.audit_not_enabled(project)
        if no_redact:
            _output.warn(f"--no-redact: {out} will contain the secrets found in command lines")
        with _output.progress(f"exporting {project}/{ctx.logstore} from {iso(from_time)} to {iso(to_time)}") as update:
            result = export_logstore(ctx.cloud.sls, project, ctx.logstore, from_time, to_time, target, fmt, now=now,
                                     redact=not no_redact, catalogue=builtin_catalogue(),
                                     csv_order=_events.CSV_FIELDS, progress=_every_second(update))
        _output.emit(result.to_json(), human=lambda _: _output.success(
            f"{result.events:,} events written to {'stdout' if target.to_stdout else result.out} "
            f"({result.bytes:,} bytes, {fmt})"))


def _every_second(update: Any) -> Any:
    """A progress line at most every _PROGRESS_EVERY seconds; the summary line says the final count."""
    from ackaudit.audit.timeparse import iso

    last = [0.0]

    def report(written: int, reached: int | None) -> None:
        if time.monotonic() - last[0] >= _PROGRESS_EVERY:
            last[0] = time.monotonic()
            update(f"{written:,} events written" + (f", at {iso(reached)}" if reached is not None else ""))

    return report


def _check_stdout(target: Any, fmt: str) -> None:
    """Events on stdout leave no room for the summary, and parquet is not for a terminal."""
    from ackaudit.errors import UsageError, shown_path

    if target.to_stdout and settings().fmt is not OutputFormat.table:
        raise UsageError(f"--out {shown_path(target.name)} writes the events to stdout; -o {settings().fmt.value} would mix "
                         "the summary into them", hint="leave out -o (the summary then goes to stderr)")
    if fmt == "parquet" and target.is_terminal:
        raise UsageError(f"parquet is binary: not for a terminal ({shown_path(target.name)})",
                         hint="redirect it to a file, or --out FILE.parquet")
