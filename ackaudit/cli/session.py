"""`ackaudit session`."""

from typing import Annotated, Any

import typer

from ackaudit.cli import _output
from ackaudit.cli._globals import OutputFormat, command, settings
from ackaudit.cli._options import AllowPartialOpt, OptionalClusterOpt, SinceOpt, SourceOpt
from ackaudit.cli.query import C, NoRedactOpt, event_source, lookup_window
from ackaudit.errors import UsageError, shown


def register(app: typer.Typer) -> None:
    @command(app, "session", examples=[f"ackaudit session 24b1236b --cluster {C}",
                                       f"ackaudit session 24b1236b --cluster {C} --format markdown > incident.md",
                                       f"ackaudit session 24b1236b --cluster {C} --since 90d -o json"])
    def session(
        trace_id: Annotated[str, typer.Argument(metavar="TRACE_ID", help="The traceId of the session, or a unique prefix of it (at least 6 characters).",
                                                show_default=False)],
        cluster: OptionalClusterOpt = None,
        since: SinceOpt = None,
        source: SourceOpt = None,
        format_: Annotated[str | None, typer.Option("--format", help="markdown: a report to paste into an "
                                                    "incident ticket.", show_default=False)] = None,
        no_redact: NoRedactOpt = False,
        allow_partial: AllowPartialOpt = False,
    ) -> None:
        """Show one exec session: who, when, where, every command in order, and the process tree.

        Searches the last 30 days unless --since says otherwise.
        """
        from ackaudit.audit.query import term
        from ackaudit.audit.risky import builtin_catalogue
        from ackaudit.audit.session import build_session, redacted, to_markdown
        from ackaudit.services.investigate import find_by, resolve_id

        if format_ not in (None, "markdown"):
            raise UsageError(f"--format {shown(format_)}: only markdown is supported")
        src, _ = event_source(cluster, source)
        window = lookup_window(src, since)
        trace_id = resolve_id(src, "traceId", trace_id, window, allow_partial=allow_partial)
        events, complete = find_by(src, term("traceId", trace_id), window, f"session {trace_id}",
                                   allow_partial=allow_partial)
        if not complete:
            _output.warn(f"the search for session {trace_id} stayed incomplete: commands may be missing "
                         "(shown because of --allow-partial)")
        view = build_session(events, builtin_catalogue())        # risk from what was recorded
        if format_ == "markdown":
            print(to_markdown(view, redact=not no_redact), end="")
            return
        if not no_redact:
            view = redacted(view)
        if settings().fmt is not OutputFormat.table:
            data = view.to_json()
            _output.emit(data, rows=data["commands"])
            return
        _render(view)


def _render(view: Any) -> None:
    from ackaudit.audit.session import tree_lines

    console = _output.stdout_console()
    duration = f"{view.duration_seconds:.0f}s" if view.duration_seconds is not None else "?"
    who = view.username + (f" (aliuid {view.aliuid})" if view.aliuid and view.aliuid != view.username else "")
    _output.kv_block([
        ("session", view.trace_id),
        ("user", who),
        ("groups", ", ".join(view.groups) or "-"),
        ("where", f"{view.cluster_id} {view.namespace}/{view.pod} container {view.container} on {view.node}"
                  + (f" ({view.host_ip})" if view.host_ip else "")),
        ("entered with", view.exec_command or "-"),
        ("when", f"{view.started or '?'} .. {view.ended or '?'} ({duration})"),
        ("commands", f"{view.counts.get('commands', 0)}, {view.counts.get('risky', 0)} risky, "
                     f"{view.counts.get('programs', 0)} programs"),
    ])
    if not view.has_exec_event:
        _output.warn("the exec event itself was not found: it may be older than the search window (--since)")
    console.print("\n[bold]Timeline[/bold]")
    _output.table([{"time": c.time.replace("T", " ")[:23], "pid": c.pid, "cwd": c.cwd, "command": c.cmdline,
                    "risk": f"! {c.risk.reason}" if c.risk else ""} for c in view.commands],
                  [_output.Column("time", "TIME (UTC)", no_wrap=True), _output.Column("pid", "PID"),
                   _output.Column("cwd", "CWD", max_width=30), _output.Column("command", "COMMAND", max_width=80),
                   _output.Column("risk", "RISK", style="red", max_width=50)], empty="no commands recorded")
    console.print("\n[bold]Process tree[/bold]")
    for prefix, node in tree_lines(view.tree):
        mark = ("  ", (f"! {node.risk.name}", "red")) if node.risk else ()
        console.print(_output.styled(f"  {prefix}{node.cmdline or node.name} ", (f"({node.pid})", "dim"), *mark))
