"""`ackaudit report`."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ackaudit.cli import _output
from ackaudit.cli._globals import OutputFormat, command, settings
from ackaudit.cli._options import AllowPartialOpt, FromOpt, OptionalClusterOpt, SinceOpt, SourceOpt, ToOpt
from ackaudit.cli.query import NoRedactOpt, event_source
from ackaudit.errors import UsageError, shown, shown_path

FORMATS = ("markdown", "html")
_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
# The terminal shows fewer risky commands than the files: the rest is one `-o json` away.
TERMINAL_RISKY = 20


def register(app: typer.Typer) -> None:
    @command(app, "report", examples=["ackaudit report --cluster cab2c17507494d8cdae1b9324d1d83793",
                                      "ackaudit report --cluster cab2c17507494d8cdae1b9324d1d83793 --since 30d -o json",
                                      "ackaudit report --cluster cab2c17507494d8cdae1b9324d1d83793 --format html --out audit.html",
                                      "ackaudit report --cluster cab2c17507494d8cdae1b9324d1d83793 --from 2026-11-01 --to 2026-12-01 "
                                      "--out november.md"])
    def report(
        cluster: OptionalClusterOpt = None,
        since: SinceOpt = None,
        from_: FromOpt = None,
        to: ToOpt = None,
        format_: Annotated[str | None, typer.Option("--format", help="markdown or html: a file to share "
                                                    "(to --out, or stdout).", show_default=False)] = None,
        out: Annotated[str | None, typer.Option("--out", help="Write the report to this file (.md or .html "
                                                "picks the format); - for stdout.", show_default=False)] = None,
        force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
        timezone: Annotated[str | None, typer.Option("--timezone", help="Show times and judge night hours in "
                                                     "this zone (default: the cluster region's; UTC for "
                                                     "--source).", show_default=False)] = None,
        risky_programs: Annotated[Path | None, typer.Option(
            "--risky-programs", help="Your own risky-program list: JSON like the bundled one, or one name per "
            "line.", show_default=False)] = None,
        no_redact: NoRedactOpt = False,
        source: SourceOpt = None,
        allow_partial: AllowPartialOpt = False,
    ) -> None:
        """Summarise who entered which containers and what they ran: in the terminal or as a file.

        Covers the last 7 days unless --since or --from/--to say otherwise. Sessions worth a look
        come first: the most risky commands, then entries between 00:00 and 06:00 local time.
        """
        from ackaudit.audit.risky import builtin_catalogue, load_catalogue
        from ackaudit.services.files import output_target, write_text
        from ackaudit.services.investigate import window_for
        from ackaudit.services.report import build_report, region_zone, zone_named
        from ackaudit.services.report_render import to_html, to_markdown

        file_format = _file_format(format_, out)
        target = output_target(out, force=force, example="audit-report.html") if out else None
        now = time.time()
        src, ctx = event_source(cluster, source)
        from_time, to_time = window_for(src, since=since, from_=from_, to=to, default="7d", now=now)
        catalogue = load_catalogue(str(risky_programs)) if risky_programs else builtin_catalogue()
        if timezone is not None:
            zone = zone_named(timezone, to_time)
        else:
            zone = region_zone((ctx.detail.get("region_id") or ctx.cloud.region) if ctx else None, to_time)
        locator = ("--source", source) if source else ("--cluster", str(cluster))
        with _output.progress(f"summarising {src.description}"):
            result = build_report(src, from_time, to_time, catalogue=catalogue, zone=zone, now=now,
                                  redact=not no_redact, cluster_id=ctx.cluster_id if ctx else None,
                                  session_locator=locator)
        for warning in result.warnings:
            _output.warn(warning)
        if file_format:
            text = to_markdown(result) if file_format == "markdown" else to_html(result)
            if target is None or target.to_stdout:
                print(text, end="")
            else:
                write_text(target, text)
                _output.success(f"wrote the {file_format} report to {out}")
            _finish(result, allow_partial)
            return
        if result.empty and settings().fmt is OutputFormat.table and result.complete:
            _output.info(f"no container was entered and no command was recorded in {src.description} "
                         "in this window; look further back with --since (e.g. --since 30d)")
            return
        data = result.to_json()
        _output.emit(data, rows=data["risky_commands"], human=lambda console: _render(result, console))
        _finish(result, allow_partial)


def _finish(result: Any, allow_partial: bool) -> None:
    """An incomplete report (SLS could not finish a statement) exits 1 unless --allow-partial."""
    from ackaudit.errors import Gap

    if not result.complete:
        _output.finish_partial([Gap(w) for w in result.warnings if "incomplete" in w], allow_partial,
                               what="the report")


def _file_format(format_: str | None, out: str | None) -> str | None:
    """markdown, html, or None (the terminal, or -o). Options that contradict each other are refused."""
    if format_ is not None and format_ not in FORMATS:
        raise UsageError(f"--format {shown(format_)}: choose markdown or html")
    fmt = settings().fmt
    if fmt is not OutputFormat.table and (format_ or out):
        given = f"--format {format_}" if format_ else f"--out {shown_path(out)}"
        raise UsageError(f"{given} writes a report document; -o {fmt.value} prints the report's data instead",
                         hint="choose one of them")
    if format_ is not None and out is not None:
        from ackaudit.services.files import check_suffix

        check_suffix(out, format_, [s for s, f in _SUFFIXES.items() if f == format_])
    if format_ is None and out is not None:
        named = _SUFFIXES.get(Path(out).suffix.lower())
        if named is None:
            raise UsageError(f"which format for {shown_path(out)}? name it .md or .html, or pass --format markdown|html")
        return named
    return format_


def _render(report: Any, console: Any) -> None:
    from ackaudit.services import report_render as show

    _render_overview(report, console, show)
    _render_sessions(report, console, show)
    _render_tables(report, console, show)


def _render_overview(report: Any, console: Any, show: Any) -> None:
    escape = _output.markup
    t = report.totals
    title = "Container operation audit" + (f": {report.cluster_id}" if report.cluster_id else "")
    console.print(_output.styled((title, "bold")))
    console.print(_output.styled((f"{report.source}, {show.window_line(report)}", "dim")))
    first, last = show.local_time(report, t["first_activity"]), show.local_time(report, t["last_activity"])
    _output.kv_block([
        ("containers entered", f"{t['sessions']} sessions, {t['pods']} pods, {t['users']} users"),
        ("commands", f"{t['commands']} ({t['programs']} programs), {t['risky_commands']} risky"),
        ("activity", f"{first} .. {last}"),
    ])
    _heading(console, show.activity_heading(report))
    buckets = report.activity["buckets"]
    largest = max((b["sessions"] for b in buckets), default=0)
    label_width = max((len(b["label"]) for b in buckets), default=0)
    bar_width = max(10, min(50, (console.width or 80) - label_width - 12))
    for b in buckets:
        bar = show.unicode_bar(b["sessions"], largest, bar_width)
        console.print(f"  {escape(b['label']).ljust(label_width)}  [cyan]{bar}[/cyan] {b['sessions']}")


def _render_sessions(report: Any, console: Any, show: Any) -> None:
    _heading(console, "Sessions worth a look")
    sessions = report.sessions_to_review
    if not sessions:
        console.print("  none: no session ran a risky command or started between 00:00 and 06:00")
        return
    for i, s in enumerate(sessions, start=1):
        why = ", ".join(filter(None, [f"{s['risky_commands']} risky" if s["risky_commands"] else "",
                                      f"night {s['local_start']}" if s["unusual_hour"] else ""]))
        started = show.local_time(report, s["started"], seconds=False)
        console.print(_output.styled(f"  {i:>2}. ", (s["trace_id"], "bold"), "  ", (why, "red")))
        console.print(_output.styled(f"      {s['username']} in {s['namespace']}/{s['pod']}, {started}, "
                                     f"{s['commands']} commands"), overflow="fold")
    _more(console, report.sessions_to_review_more, "sessions")
    from ackaudit.audit.escape import command_line

    example = command_line("session", "ID", report.session_options)
    console.print(_output.styled((f"  open one with: {example}", "dim")), overflow="fold")


def _render_tables(report: Any, console: Any, show: Any) -> None:
    col = _output.Column
    _heading(console, "Top users")
    _output.table([{**u, "user": show.user_label(u), "aliuid": u["aliuid"] or "-",
                    "last_seen": show.local_time(report, u["last_seen"], seconds=False)} for u in report.top_users],
                  [col("user", "USER", max_width=48), col("aliuid", "ALIUID"), col("sessions", "SESSIONS"),
                   col("commands", "CMDS"), col("risky_commands", "RISKY", style="red"), col("pods", "PODS"),
                   col("last_seen", show.time_header(report, "LAST SEEN"), no_wrap=True)], empty="  nobody")
    _heading(console, "Top namespaces")
    _output.table(report.top_namespaces, [col("namespace", "NAMESPACE"), col("sessions", "SESSIONS"),
                                          col("pods", "PODS"), col("users", "USERS")], empty="  none")
    _heading(console, "Top pods entered")
    _output.table([{**p, "pod": f"{p['namespace']}/{p['pod']}"} for p in report.top_pods],
                  [col("pod", "POD"), col("sessions", "SESSIONS"), col("users", "USERS")], empty="  none")
    _heading(console, "Top programs")
    _output.table([{**p, "risky": "risky" if p["risky"] else ""} for p in report.top_programs],
                  [col("program", "PROGRAM"), col("runs", "RUNS"), col("sessions", "SESSIONS"),
                   col("users", "USERS"), col("risky", "", style="red")], empty="  none")
    _heading(console, "Risky programs")
    _output.table(report.risky_programs,
                  [col("program", "PROGRAM"), col("category", "CATEGORY", style="red", no_wrap=True),
                   col("runs", "RUNS"), col("sessions", "SESSIONS"), col("reason", "WHY")], empty="  none")
    _heading(console, "Risky commands, newest first")
    shown = report.risky_commands[:TERMINAL_RISKY]
    _output.table([{**c, "time": show.local_time(report, c["time"], seconds=False)[5:],
                    "pod": f"{c['namespace']}/{c['pod']}"} for c in shown],
                  [col("time", show.time_header(report, "TIME"), no_wrap=True),
                   col("username", "USER", max_width=18), col("pod", "POD", max_width=24),
                   col("cmdline", "COMMAND"), col("category", "RISK", style="red", max_width=20)], empty="  none")
    _more(console, len(report.risky_commands) - len(shown) + report.risky_commands_more, "risky commands")


def _heading(console: Any, text: str) -> None:
    console.print(_output.styled("\n", (text, "bold")))


def _more(console: Any, count: int, what: str) -> None:
    if count > 0:
        console.print(f"  [dim]…and {count} more {what}: see -o json, or --format html --out FILE[/dim]")
